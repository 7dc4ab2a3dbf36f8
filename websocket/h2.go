package websocket

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"
)

// WebSockets over HTTP/2 (RFC 8441). A client whose HTTP/2 server
// advertises SETTINGS_ENABLE_CONNECT_PROTOCOL may open a WebSocket as an
// extended CONNECT stream on the connection it already has (browsers do,
// for the page's own connection): the request is CONNECT with the
// pseudo-header :protocol set to "websocket" and Sec-WebSocket-Version 13;
// there is no key and no Sec-WebSocket-Accept, the answer is 200, and the
// stream itself carries the frames, exactly as the TCP connection does
// after an HTTP/1.1 upgrade. Subprotocols, extensions (permessage-deflate)
// and the origin travel in the same headers.
//
// Go's server advertises the setting only when the process was started
// with GODEBUG=http2xconnect=1 (net/http reads it once, at start-up; see
// ExtendedConnectEnabled). Its client (http.Transport) needs no setting.

// protocolPseudoHeader is where net/http keeps the :protocol pseudo-header
// of an extended CONNECT, on the server's request and the client's.
const protocolPseudoHeader = ":protocol"

// msgHTTP2Protocol answers an HTTP/2 CONNECT for another protocol.
const msgHTTP2Protocol = `Can "Upgrade" only to "WebSocket".`

// ExtendedConnectEnabled reports whether this process's net/http server
// advertises RFC 8441 extended CONNECT on HTTP/2 connections, that is
// whether it was started with http2xconnect=1 in GODEBUG. Without it,
// browsers open their WebSockets on separate HTTP/1.1 connections (which
// work as ever) and an extended CONNECT is refused by net/http before any
// handler sees it. net/http reads the variable when the program starts,
// so setting it later (os.Setenv) changes nothing, and a //go:debug
// directive does not reach it either; this reads the same variable the
// same way.
func ExtendedConnectEnabled() bool {
	return strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1")
}

// isHTTP2 reports whether r came over HTTP/2 (or later), where the
// handshake is RFC 8441's.
func isHTTP2(r *http.Request) bool { return r.ProtoMajor >= 2 }

// checkExtendedConnect validates r as an RFC 8441 handshake, in the order
// and with the statuses of the HTTP/1.1 checks: a method other than
// CONNECT (and GET, which is an HTTP/1.1 handshake that cannot upgrade
// here) 405; GET, or a CONNECT for another protocol, 400 as a request
// without "Upgrade: websocket" gets; the origin 403; the version 426.
// There is no Connection header to check (HTTP/2 forbids it) and no key.
func checkExtendedConnect(r *http.Request, opts *AcceptOptions) *HandshakeError {
	switch {
	case r.Method != http.MethodConnect && r.Method != http.MethodGet:
		return &HandshakeError{Status: http.StatusMethodNotAllowed, Message: msgMethod}
	case r.Method != http.MethodConnect || !asciiEqualFold(r.Header.Get(protocolPseudoHeader), "websocket"):
		return &HandshakeError{Status: http.StatusBadRequest, Message: msgHTTP2Protocol}
	}
	if herr := checkOrigin(r, opts); herr != nil {
		return herr
	}
	return checkVersion(r)
}

// acceptExtendedConnect completes an RFC 8441 handshake that passed the
// checks: the 200 goes out with the chosen subprotocol, the extension
// answer and the extra headers, and the stream becomes the connection.
func acceptExtendedConnect(w http.ResponseWriter, r *http.Request, opts *AcceptOptions, protocol, extensions string, deflate *deflateParams) (*Conn, error) {
	rc := http.NewResponseController(w)
	// A stream answered by a handler that writes and reads at once; and
	// none of the server's ReadTimeout and WriteTimeout, which would end
	// the WebSocket however healthy.
	if err := rc.EnableFullDuplex(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return nil, fmt.Errorf("websocket: HTTP/2 stream: %w", err)
	}
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	for name, values := range opts.Header {
		if !isToken(name) || slices.Contains(handshakeHeaders, http.CanonicalHeaderKey(name)) {
			continue
		}
		for _, v := range values {
			h.Add(name, scrubHeaderValue(v))
		}
	}
	if protocol != "" {
		h.Set(hdrProtocol, protocol)
	}
	if extensions != "" {
		h.Set(hdrExtensions, extensions)
	}
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return nil, fmt.Errorf("websocket: writing the handshake response: %w", err)
	}
	s := newStreamConn(r.Body, w)
	s.flush = rc.Flush
	s.setWriteDeadline = rc.SetWriteDeadline
	s.breakWrite = func() { _ = rc.SetWriteDeadline(aLongTimeAgo) }
	s.remote = requestRemoteAddr(r)
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		s.local = a
	} else {
		s.local = streamAddr("")
	}
	return newConnDeflating(s, nil, true, protocol, &opts.ConnOptions, deflate, opts.Compression), nil
}

// requestRemoteAddr is r.RemoteAddr as a net.Addr.
func requestRemoteAddr(r *http.Request) net.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return streamAddr(r.RemoteAddr)
}
