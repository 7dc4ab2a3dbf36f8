package websocket

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DialOptions configures the client side of the opening handshake and the
// connection it makes. The zero value (or nil) is ready to use.
type DialOptions struct {
	ConnOptions

	// Header holds extra request headers (Origin, Cookie, Authorization,
	// ...). A Host header replaces the URL's host in the request.
	Header http.Header
	// Subprotocols are offered in order of preference.
	Subprotocols []string
	// Compression offers permessage-deflate (RFC 7692) with these
	// options; nil offers nothing. A server's answer that does not fit
	// the offer fails the handshake.
	Compression *CompressionOptions
	// HandshakeTimeout bounds connecting, TLS and the opening handshake.
	// Zero means DefaultHandshakeTimeout; ctx may end it sooner.
	HandshakeTimeout time.Duration
	// TLSConfig is used for wss:// URLs; nil means the defaults. Its
	// ServerName is filled from the URL when empty.
	TLSConfig *tls.Config
	// NetDialContext makes the TCP connection; nil means a net.Dialer.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// HTTP2Transport, when set, makes Dial open the WebSocket as an RFC
	// 8441 extended CONNECT stream on an HTTP/2 connection of this
	// transport (wss:// and https:// URLs only), instead of an HTTP/1.1
	// upgrade on a connection of its own: every WebSocket dialled through
	// one transport to one server shares its connection, as a browser's
	// share the page's. As of Go 1.26 net/http's own Transport cannot
	// send one (it rejects the :protocol pseudo-header; the dial fails
	// with an error saying so); golang.org/x/net/http2's Transport can:
	//
	//	opts.HTTP2Transport = &http2.Transport{TLSClientConfig: cfg}
	//
	// A server that does not speak HTTP/2 or does not advertise extended
	// CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL) fails the dial.
	// TLSConfig and NetDialContext are not used then (the transport's own
	// settings are); HandshakeTimeout and ctx still bound the handshake.
	HTTP2Transport http.RoundTripper
}

// DialError is returned by Dial when the server answered the handshake with
// something other than a valid 101 response. Response is that response,
// with up to maxErrorBody bytes of its body readable.
type DialError struct {
	Response *http.Response
	Reason   string
}

// Error describes the failed handshake.
func (e *DialError) Error() string {
	if e.Response != nil {
		return fmt.Sprintf("websocket: handshake failed: %s (status %s)", e.Reason, e.Response.Status)
	}
	return "websocket: handshake failed: " + e.Reason
}

// maxErrorBody is how much of a refusal's body Dial keeps.
const maxErrorBody = 1 << 20

// maxResponseHeader bounds the size of the handshake response Dial reads.
const maxResponseHeader = 64 << 10

// Dial opens a WebSocket connection to rawURL (ws://, wss://, or http://
// and https:// taken as the same) and completes the opening handshake
// (RFC 6455 section 4.1). On a refusal it returns the server's response
// alongside a *DialError, so that its status and body can be read.
func Dial(ctx context.Context, rawURL string, opts *DialOptions) (*Conn, *http.Response, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("websocket: bad URL: %w", err)
	}
	secure := false
	switch u.Scheme {
	case "ws", "http":
	case "wss", "https":
		secure = true
	default:
		return nil, nil, fmt.Errorf("websocket: unsupported URL scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, nil, errors.New("websocket: URL without host")
	}
	if u.User != nil {
		return nil, nil, errors.New("websocket: user info in URL is not supported; set an Authorization header")
	}
	if opts.HTTP2Transport != nil {
		if !secure {
			return nil, nil, fmt.Errorf("websocket: HTTP/2 extended CONNECT needs a wss:// or https:// URL, not %s://", u.Scheme)
		}
		return dialExtendedConnect(ctx, u, opts)
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if secure {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	timeout := opts.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	dial := opts.NetDialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("websocket: dial %s: %w", addr, err)
	}
	// Until the handshake is done, ctx's end interrupts whatever blocks.
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(aLongTimeAgo) })
	conn, resp, err := clientHandshake(ctx, nc, u, secure, opts)
	if !stop() || err != nil {
		nc.Close()
		if err == nil || ctx.Err() != nil && isTimeout(err) {
			err = fmt.Errorf("websocket: handshake: %w", ctx.Err())
		}
		return nil, resp, err
	}
	return conn, resp, nil
}

// clientHandshake runs the opening handshake on nc.
func clientHandshake(ctx context.Context, nc net.Conn, u *url.URL, secure bool, opts *DialOptions) (*Conn, *http.Response, error) {
	if d, ok := ctx.Deadline(); ok {
		nc.SetDeadline(d)
	}
	if secure {
		cfg := opts.TLSConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, nil, fmt.Errorf("websocket: TLS handshake: %w", err)
		}
		nc = tc
	}
	var keyBytes [16]byte
	rand.Read(keyBytes[:])
	key := base64.StdEncoding.EncodeToString(keyBytes[:])

	req, err := buildRequest(u, key, opts)
	if err != nil {
		return nil, nil, err
	}
	if _, err := nc.Write(req); err != nil {
		return nil, nil, fmt.Errorf("websocket: writing the handshake: %w", err)
	}
	br := bufio.NewReaderSize(&limitedConn{r: nc, n: maxResponseHeader}, 4096)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet, URL: u})
	if err != nil {
		return nil, nil, fmt.Errorf("websocket: reading the handshake response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return nil, resp, &DialError{Response: resp, Reason: "server did not switch protocols"}
	}
	resp.Body = http.NoBody
	if reason := checkUpgradeResponse(resp, key, opts); reason != "" {
		return nil, resp, &DialError{Response: resp, Reason: reason}
	}
	var buffered []byte
	if n := br.Buffered(); n > 0 {
		buffered, _ = br.Peek(n)
	}
	var deflate *deflateParams
	if exts := resp.Header.Values(hdrExtensions); len(exts) > 0 {
		p, err := acceptDeflateAnswer(exts, opts.Compression)
		if err != nil {
			return nil, resp, &DialError{Response: resp, Reason: err.Error()}
		}
		deflate = &p
	}
	nc.SetDeadline(time.Time{})
	c := newConnDeflating(nc, buffered, false, resp.Header.Get(hdrProtocol), &opts.ConnOptions, deflate, opts.Compression)
	return c, resp, nil
}

// buildRequest writes the handshake request.
func buildRequest(u *url.URL, key string, opts *DialOptions) ([]byte, error) {
	host := u.Host
	if h := opts.Header.Get("Host"); h != "" {
		host = h
	}
	b := make([]byte, 0, 512)
	b = append(b, "GET "...)
	b = append(b, u.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, scrubHeaderValue(host)...)
	b = append(b, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "...)
	b = append(b, key...)
	b = append(b, "\r\n"...)
	if len(opts.Subprotocols) > 0 {
		for _, p := range opts.Subprotocols {
			if !isToken(p) {
				return nil, fmt.Errorf("websocket: invalid subprotocol %q", p)
			}
		}
		b = append(b, "Sec-WebSocket-Protocol: "...)
		b = append(b, strings.Join(opts.Subprotocols, ", ")...)
		b = append(b, "\r\n"...)
	}
	if opts.Compression != nil {
		b = append(b, "Sec-WebSocket-Extensions: "...)
		b = append(b, offerDeflate(opts.Compression)...)
		b = append(b, "\r\n"...)
	}
	err := eachExtraHeader(opts.Header, func(name, v string) {
		b = append(b, name...)
		b = append(b, ": "...)
		b = append(b, v...)
		b = append(b, "\r\n"...)
	})
	if err != nil {
		return nil, err
	}
	return append(b, "\r\n"...), nil
}

// eachExtraHeader calls f with each of the user's extra request headers
// that the handshake does not write itself, after checking that names
// are tokens and values hold no line breaks or NULs.
func eachExtraHeader(h http.Header, f func(name, value string)) error {
	for name, values := range h {
		if !isToken(name) {
			return fmt.Errorf("websocket: invalid header name %q", name)
		}
		switch http.CanonicalHeaderKey(name) {
		case "Host", "Upgrade", "Connection", "Sec-Websocket-Version", "Sec-Websocket-Key", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions":
			continue
		}
		for _, v := range values {
			if strings.ContainsAny(v, "\r\n\x00") {
				return fmt.Errorf("websocket: invalid value for header %s", name)
			}
		}
		for _, v := range values {
			f(name, v)
		}
	}
	return nil
}

// checkUpgradeResponse validates a 101 response (RFC 6455 section 4.1,
// the client's checks 1-6) and returns why it fails, or "".
func checkUpgradeResponse(resp *http.Response, key string, opts *DialOptions) string {
	var want [acceptKeyLen]byte
	switch {
	case !headerHasToken(resp.Header, "Upgrade", "websocket"):
		return "response Upgrade header is not websocket"
	case !headerHasToken(resp.Header, "Connection", "upgrade"):
		return "response Connection header lacks upgrade"
	case resp.Header.Get(hdrAccept) != string(appendAcceptKey(want[:0], key)):
		return "wrong Sec-WebSocket-Accept"
	}
	return checkNegotiation(resp, opts)
}

// checkNegotiation validates the server's choice of extensions and
// subprotocol against the offer, and returns why it fails, or "".
func checkNegotiation(resp *http.Response, opts *DialOptions) string {
	if opts.Compression == nil && len(resp.Header.Values(hdrExtensions)) > 0 {
		return "server chose an extension that was not offered"
	}
	if ps := resp.Header.Values(hdrProtocol); len(ps) > 0 {
		if len(ps) > 1 || !slices.Contains(opts.Subprotocols, ps[0]) {
			return "server chose a subprotocol that was not offered"
		}
	}
	return ""
}

// limitedConn bounds how much of the handshake response may be read, so a
// server sending endless headers cannot exhaust memory; the limit is lifted
// once the handshake is over (the bufio.Reader keeps only what it buffered).
type limitedConn struct {
	r io.Reader
	n int64
}

func (l *limitedConn) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("websocket: handshake response too large")
	}
	p = p[:min(int64(len(p)), l.n)]
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
