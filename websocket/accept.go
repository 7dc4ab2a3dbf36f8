package websocket

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// AcceptOptions configures the server side of the opening handshake and
// the connection it makes. The zero value (or nil) accepts same-origin
// requests with no subprotocol.
type AcceptOptions struct {
	ConnOptions

	// Subprotocols are the subprotocols the server speaks, in order of
	// preference; the first one the client offered is chosen. None
	// matching is not an error: the connection is made without one.
	Subprotocols []string
	// SelectSubprotocol, when set, chooses from the client's offers
	// instead of Subprotocols. It must return one of them or "" for none.
	SelectSubprotocol func(offered []string) string
	// CheckOrigin decides whether to accept the request's Origin. Nil
	// means DefaultCheckOrigin, which refuses cross-origin requests.
	CheckOrigin func(r *http.Request) bool
	// Compression enables permessage-deflate (RFC 7692) when the client
	// offers it; nil leaves it off. See CompressionOptions.
	Compression *CompressionOptions
	// Header holds extra headers for the 101 response (Set-Cookie, for
	// instance). Control characters in values are replaced by spaces;
	// invalid names and the handshake's own headers are skipped.
	Header http.Header
}

// HandshakeError is returned by Accept when it refused the request; the
// HTTP error response has been written.
type HandshakeError struct {
	Status  int    // the HTTP status sent
	Message string // the response body sent
}

// Error describes the refusal.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("websocket: handshake refused: %d %s", e.Status, e.Message)
}

// Response bodies of refused handshakes. They follow Tornado's
// WebSocketHandler, so clients ported from it see the same answers.
const (
	msgMethod     = "Method Not Allowed"
	msgHTTPVer    = "WebSocket requires HTTP/1.1"
	msgUpgrade    = `Can "Upgrade" only to "WebSocket".`
	msgConnection = `"Connection" must be "Upgrade".`
	msgOrigin     = "Cross origin websockets not allowed"
	msgVersion    = "Upgrade Required"
	msgKey        = "Missing/Invalid WebSocket key"
)

// handshakeWriteTimeout bounds writing the 101 response.
const handshakeWriteTimeout = 10 * time.Second

// Accept completes the server side of the opening handshake (RFC 6455
// section 4.2) on an HTTP request and returns the connection.
//
// It checks, in Tornado's order: method GET (405), HTTP/1.1 or later (400),
// Upgrade naming websocket (400), Connection naming upgrade (400), the
// origin (403), Sec-WebSocket-Version 13 (426, with the version we speak),
// and a Sec-WebSocket-Key of 16 base64-encoded bytes (400). A refused
// request gets the HTTP error and Accept returns a *HandshakeError.
//
// The connection is taken over through http.NewResponseController, so
// Accept works behind middleware that wraps the ResponseWriter as long as
// the wrapper unwraps. Bytes the client sent right after its request are
// kept. Deadlines the http.Server set are cleared.
//
// Over HTTP/2 Accept takes an RFC 8441 extended CONNECT instead (see
// h2.go): CONNECT with :protocol websocket, checked for the origin (403)
// and the version (426) as above, with no Upgrade, Connection or key;
// the answer is 200 and the stream is the connection. Any other HTTP/2
// request is refused (405 for other methods, 400 for GET). The stream
// lives as long as the handler: a handler that accepted over HTTP/2 must
// not return before the connection is closed (wait for <-c.Done()), and
// closing it ends only that stream, not the TCP connection under it.
func Accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	if herr := checkUpgradeRequest(r, opts); herr != nil {
		refuse(w, herr)
		return nil, herr
	}
	protocol := selectSubprotocol(r, opts)
	var deflate *deflateParams
	var extensions string
	if opts.Compression != nil {
		if p, answer, ok := acceptDeflate(r.Header.Values(hdrExtensions), opts.Compression); ok {
			deflate, extensions = &p, answer
		}
	}
	if isHTTP2(r) {
		return acceptExtendedConnect(w, r, opts, protocol, extensions, deflate)
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		herr := &HandshakeError{Status: http.StatusInternalServerError, Message: "websocket: connection cannot be taken over"}
		refuse(w, herr)
		return nil, fmt.Errorf("websocket: hijack: %w", err)
	}
	nc.SetDeadline(time.Time{})
	var buffered []byte
	if n := brw.Reader.Buffered(); n > 0 {
		buffered, _ = brw.Reader.Peek(n)
	}
	c := newConnDeflating(nc, buffered, true, protocol, &opts.ConnOptions, deflate, opts.Compression)
	// The response is assembled in a pooled write buffer (it grows out of
	// it only with unusually many extra headers).
	pooled := writeBufPool.Get().(*[writeBufferSize]byte)
	defer writeBufPool.Put(pooled)
	resp := appendSwitchingProtocols(pooled[:0], r.Header.Get(hdrKey), protocol, extensions, opts.Header)
	if _, err := c.writeBounded(resp, handshakeWriteTimeout); err != nil {
		c.closeTCP(endingAfter(err))
		return nil, fmt.Errorf("websocket: writing the handshake response: %w", err)
	}
	return c, nil
}

// appendSwitchingProtocols appends the 101 response to a handshake
// request with the given key, chosen subprotocol and extension answer (""
// for none) and extra headers.
func appendSwitchingProtocols(dst []byte, key, protocol, extensions string, extra http.Header) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = appendAcceptKey(dst, key)
	dst = append(dst, "\r\n"...)
	if protocol != "" {
		dst = append(dst, "Sec-WebSocket-Protocol: "...)
		dst = append(dst, protocol...)
		dst = append(dst, "\r\n"...)
	}
	if extensions != "" {
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		dst = append(dst, extensions...)
		dst = append(dst, "\r\n"...)
	}
	dst = appendExtraHeaders(dst, extra)
	return append(dst, "\r\n"...)
}

// CheckRequest applies Accept's checks to r without answering it: it
// returns nil, or the *HandshakeError that Accept would send. Frameworks
// use it to run code between the checks and the 101 response (tornago's
// WebSocketHandler runs Open there).
func CheckRequest(r *http.Request, opts *AcceptOptions) error {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	if herr := checkUpgradeRequest(r, opts); herr != nil {
		return herr
	}
	return nil
}

// checkUpgradeRequest validates r as an opening handshake.
func checkUpgradeRequest(r *http.Request, opts *AcceptOptions) *HandshakeError {
	if isHTTP2(r) {
		return checkExtendedConnect(r, opts)
	}
	switch {
	case r.Method != http.MethodGet:
		return &HandshakeError{Status: http.StatusMethodNotAllowed, Message: msgMethod}
	case !r.ProtoAtLeast(1, 1):
		return &HandshakeError{Status: http.StatusBadRequest, Message: msgHTTPVer}
	case !headerHasToken(r.Header, "Upgrade", "websocket"):
		return &HandshakeError{Status: http.StatusBadRequest, Message: msgUpgrade}
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return &HandshakeError{Status: http.StatusBadRequest, Message: msgConnection}
	}
	if herr := checkOrigin(r, opts); herr != nil {
		return herr
	}
	if herr := checkVersion(r); herr != nil {
		return herr
	}
	if ks := r.Header.Values(hdrKey); len(ks) != 1 || !validKey(ks[0]) {
		return &HandshakeError{Status: http.StatusBadRequest, Message: msgKey}
	}
	return nil
}

// checkOrigin applies opts.CheckOrigin (or DefaultCheckOrigin).
func checkOrigin(r *http.Request, opts *AcceptOptions) *HandshakeError {
	check := opts.CheckOrigin
	if check == nil {
		check = DefaultCheckOrigin
	}
	if !check(r) {
		return &HandshakeError{Status: http.StatusForbidden, Message: msgOrigin}
	}
	return nil
}

// checkVersion requires Sec-WebSocket-Version 13, the only one we speak.
func checkVersion(r *http.Request) *HandshakeError {
	if vs := r.Header.Values(hdrVersion); len(vs) != 1 || trimOWS(vs[0]) != "13" {
		return &HandshakeError{Status: http.StatusUpgradeRequired, Message: msgVersion}
	}
	return nil
}

// refuse writes the HTTP response for a refused handshake.
func refuse(w http.ResponseWriter, herr *HandshakeError) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	switch herr.Status {
	case http.StatusMethodNotAllowed:
		h.Set("Allow", http.MethodGet)
	case http.StatusUpgradeRequired:
		h.Set("Sec-WebSocket-Version", "13")
	}
	w.WriteHeader(herr.Status)
	fmt.Fprint(w, herr.Message)
}

// DefaultCheckOrigin is the origin rule Accept applies unless told
// otherwise, Tornado's check_origin made case-insensitive on both sides:
// a request without an Origin header (not from a browser) is allowed;
// otherwise the Origin's host[:port] must equal the Host header.
func DefaultCheckOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	return SameOrigin(origin, r.Host)
}

// SameOrigin reports whether origin (an Origin header value such as
// "https://example.com:8443") names host (a Host header value such as
// "example.com:8443"): its host[:port] equals host, compared
// ASCII-case-insensitively. An opaque origin ("null") matches nothing.
// DefaultCheckOrigin applies it to a request; tornago.WebSocketHandler's
// CheckOrigin applies it to the Host its trusted proxies report.
func SameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return asciiEqualFold(u.Host, host)
}

// OfferedSubprotocols returns the subprotocols a handshake request offers,
// in the client's order: what a framework hands its own selection hook
// (tornago.WebSocketHandler's SelectSubprotocol) before Accept.
func OfferedSubprotocols(r *http.Request) []string {
	return headerTokens(r.Header, hdrProtocol)
}

// selectSubprotocol picks the subprotocol for the response.
func selectSubprotocol(r *http.Request, opts *AcceptOptions) string {
	offered := OfferedSubprotocols(r)
	if len(offered) == 0 {
		return ""
	}
	if opts.SelectSubprotocol != nil {
		if p := opts.SelectSubprotocol(offered); slices.Contains(offered, p) {
			return p
		}
		return ""
	}
	for _, p := range opts.Subprotocols {
		if slices.Contains(offered, p) {
			return p
		}
	}
	return ""
}

// handshakeHeaders are written by the handshake itself; extra headers of
// these names are dropped.
var handshakeHeaders = []string{"Upgrade", "Connection", "Sec-Websocket-Accept", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions", "Content-Length", "Transfer-Encoding"}

// appendExtraHeaders appends h to a response, skipping invalid names and
// the handshake's own headers and scrubbing control characters from
// values.
func appendExtraHeaders(dst []byte, h http.Header) []byte {
	for name, values := range h {
		if !isToken(name) || slices.Contains(handshakeHeaders, http.CanonicalHeaderKey(name)) {
			continue
		}
		for _, v := range values {
			dst = append(dst, name...)
			dst = append(dst, ": "...)
			dst = append(dst, scrubHeaderValue(v)...)
			dst = append(dst, "\r\n"...)
		}
	}
	return dst
}
