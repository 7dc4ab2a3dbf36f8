package websocket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"
)

// dialExtendedConnect is Dial over HTTP/2 (RFC 8441 section 4): a CONNECT
// request with :protocol websocket on a stream of opts.HTTP2Transport,
// whose request body carries our frames and whose response body the
// server's.
func dialExtendedConnect(ctx context.Context, u *url.URL, opts *DialOptions) (*Conn, *http.Response, error) {
	timeout := opts.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// The stream lives as long as its request's context, which therefore
	// outlives the handshake: it ends when the connection is closed, or
	// when the handshake fails or runs out of time.
	sctx, endStream := context.WithCancel(context.WithoutCancel(ctx))
	var local, remote net.Addr
	sctx = httptrace.WithClientTrace(sctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			local, remote = info.Conn.LocalAddr(), info.Conn.RemoteAddr()
		},
	})
	stop := context.AfterFunc(hctx, endStream)
	defer stop()

	pr, pw := io.Pipe()
	target := *u
	target.Scheme = "https"
	req, err := http.NewRequestWithContext(sctx, http.MethodConnect, target.String(), pr)
	if err != nil {
		endStream()
		return nil, nil, fmt.Errorf("websocket: %w", err)
	}
	if err := setExtendedConnectHeaders(req, opts); err != nil {
		endStream()
		return nil, nil, err
	}
	resp, err := opts.HTTP2Transport.RoundTrip(req)
	if err != nil {
		endStream()
		pw.Close()
		switch {
		case hctx.Err() != nil:
			err = fmt.Errorf("%w (%w)", hctx.Err(), err)
		case strings.Contains(err.Error(), `":protocol"`):
			err = fmt.Errorf("%w: %w", errStdlibTransport, err)
		}
		return nil, nil, fmt.Errorf("websocket: HTTP/2 extended CONNECT: %w", err)
	}
	fail := func(reason string) (*Conn, *http.Response, error) {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		pw.Close()
		endStream()
		return nil, resp, &DialError{Response: resp, Reason: reason}
	}
	switch {
	case resp.ProtoMajor != 2:
		return fail("the transport did not speak HTTP/2 to the server")
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return fail("server did not accept the extended CONNECT")
	}
	if reason := checkNegotiation(resp, opts); reason != "" {
		return fail(reason)
	}
	var deflate *deflateParams
	if exts := resp.Header.Values(hdrExtensions); len(exts) > 0 {
		p, err := acceptDeflateAnswer(exts, opts.Compression)
		if err != nil {
			return fail(err.Error())
		}
		deflate = &p
	}
	if !stop() {
		// The handshake's time ran out as the answer came.
		return fail("handshake timed out")
	}
	s := newClientStream(resp.Body, pw, endStream)
	s.local, s.remote = orStreamAddr(local), orStreamAddr(remote)
	respCopy := *resp
	respCopy.Body = http.NoBody
	c := newConnDeflating(s, nil, false, resp.Header.Get(hdrProtocol), &opts.ConnOptions, deflate, opts.Compression)
	return c, &respCopy, nil
}

// setExtendedConnectHeaders fills the request's headers: the :protocol
// pseudo-header (which net/http's HTTP/2 client sends from this entry),
// the version, the offers and the user's extra headers.
func setExtendedConnectHeaders(req *http.Request, opts *DialOptions) error {
	h := req.Header
	h[protocolPseudoHeader] = []string{"websocket"}
	h.Set(hdrVersion, "13")
	if len(opts.Subprotocols) > 0 {
		for _, p := range opts.Subprotocols {
			if !isToken(p) {
				return fmt.Errorf("websocket: invalid subprotocol %q", p)
			}
		}
		h.Set(hdrProtocol, strings.Join(opts.Subprotocols, ", "))
	}
	if opts.Compression != nil {
		h.Set(hdrExtensions, offerDeflate(opts.Compression))
	}
	if host := opts.Header.Get("Host"); host != "" {
		req.Host = host
	}
	return eachExtraHeader(opts.Header, func(name, v string) { h.Add(name, v) })
}

// newClientStream makes the client's end of an extended CONNECT stream:
// it reads the response body and writes the request body's pipe.
func newClientStream(body io.ReadCloser, pw *io.PipeWriter, endStream context.CancelFunc) *streamConn {
	s := newStreamConn(body, pw)
	var mu sync.Mutex
	var timer *time.Timer
	// An io.Pipe has no deadlines: a write still blocked when the
	// deadline passes (the server's flow control window is shut) is
	// broken, which ends the stream's sending half.
	s.setWriteDeadline = func(t time.Time) error {
		mu.Lock()
		defer mu.Unlock()
		if timer != nil {
			timer.Stop()
			timer = nil
		}
		if !t.IsZero() {
			timer = time.AfterFunc(time.Until(t), func() {
				if s.writing.Load() {
					pw.CloseWithError(errStreamTimeout)
				}
			})
		}
		return nil
	}
	s.breakWrite = func() { pw.CloseWithError(net.ErrClosed) }
	s.closeWrite = pw.Close
	s.finish = func() {
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		pw.Close()
		endStream()
	}
	return s
}

// orStreamAddr is a, or an empty address if the connection's was not
// reported.
func orStreamAddr(a net.Addr) net.Addr {
	if a == nil {
		return streamAddr("")
	}
	return a
}

// errStdlibTransport explains the error of a transport that refused the
// :protocol pseudo-header: net/http's own, as of Go 1.26, whose RoundTrip
// rejects it as an invalid header name before its HTTP/2 code (which would
// send it) sees the request.
var errStdlibTransport = errors.New("websocket: this transport cannot send an RFC 8441 extended CONNECT (net/http's rejects the :protocol pseudo-header as of Go 1.26); use golang.org/x/net/http2's Transport as DialOptions.HTTP2Transport")
