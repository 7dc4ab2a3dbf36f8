package tornago

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/tornago/tornago/websocket"
)

// Message is a data message from the peer, as OnMessage receives it: the
// core's websocket.Message, which is hub.Message too. Data is the
// handler's to keep: it is not reused after OnMessage returns, unless
// SetReuseMessageBuffers says so.
type Message = websocket.Message

// ErrClosed is returned (errors.Is) by writes to a WebSocket that is
// closed or closing, Tornado's WebSocketClosedError. It is the same error
// value as websocket.ErrClosed.
var ErrClosed = websocket.ErrClosed

// ErrSendQueueFull is returned by a write that would take the connection's
// send queue over Settings.WebSocketSendQueueSize: the peer is not reading
// fast enough, so the connection is closed with 1008. It matches ErrClosed,
// and is the same error value as websocket.ErrSendQueueFull.
var ErrSendQueueFull = websocket.ErrSendQueueFull

// WebSocketHandler is the base of a WebSocket handler, as Tornado's
// WebSocketHandler: embed it by value and override the methods you need.
//
//	type ChatSocket struct{ tornago.WebSocketHandler }
//
//	func (h *ChatSocket) Open(args ...string) error        { return nil }
//	func (h *ChatSocket) OnMessage(m tornago.Message) error { return h.WriteMessage(m.Data, m.Binary) }
//	func (h *ChatSocket) OnClose()                          {}
//
// The lifecycle of one connection, on one instance from the route's
// factory:
//
//  1. Initialize and Prepare run as for any handler (Prepare may answer
//     with an error status).
//  2. The handshake is checked in Tornado's order, with its statuses: 405
//     for a method other than GET, 400 for a bad Upgrade or Connection
//     header, 403 when CheckOrigin refuses the Origin, 426 for a version
//     other than 13, 400 for a bad key.
//  3. Open runs before the 101 response is written: cookies and headers it
//     sets go out with the 101, an error it returns becomes the HTTP
//     status (an HTTPError's code, else 500), and messages it writes follow
//     the 101. Over HTTP/2 (Settings.HTTP2, RFC 8441) the same holds for
//     the 200 that answers the browser's extended CONNECT.
//  4. Messages are read and OnMessage is called for each, in order: on the
//     reading goroutine while no other message waits, on another once
//     OnMessage falls behind; an OnMessage that runs longer than 50 ms has
//     the reading moved to a new goroutine within a second (the keepalive
//     tick), so pings are answered while OnMessage works.
//     An error or panic from OnMessage closes the connection with 1011;
//     a write that fails because the connection is already closing
//     (ErrClosed, ErrSendQueueFull) is not counted as one.
//  5. OnClose runs exactly once for every handler whose Open was called,
//     whatever ends the connection: the peer's close, Close, a ping or send
//     timeout, a dropped TCP connection, a protocol error, a handler
//     error, Application.Shutdown, and Open refusing the connection (so
//     OnClose can undo what Open did before it refused; CloseCode is 0
//     then). Once the connection has ended, writes fail with ErrClosed.
//
// The request helpers of RequestHandler (GetArgument, GetCookie,
// GetSecureCookie, CurrentUser, Request, RemoteIP, ...) work in Open and
// afterwards. Request().Context() lasts as long as the connection and is
// cancelled when it closes, so work started for the socket can use it.
// Once the handshake is done the request is kept packed (its header
// fields in one string, its URL as the request target) and rebuilt on
// the first call that needs it, so an idle connection does not hold a
// header map: from then on Request returns that rebuilt *http.Request,
// equal in every field to the one Open saw.
//
// WriteMessage, WriteText, WriteJSON, WritePrepared, Ping, Flush and
// Close are safe from any goroutine; the other methods belong to the
// handler's own goroutines (Open, OnMessage, OnClose).
//
// The connection itself is served by the core's websocket.Session (send
// queue, ordered dispatch, keepalive, parking of quiet readers), which
// this type adapts to Tornado's hooks and handshake order.
type WebSocketHandler struct {
	RequestHandler
	ws          *websocket.Session // from the registry on, just before Open
	endContext  context.CancelFunc // ends Request().Context() after OnClose
	conf        wsConfig
	subprotocol string
}

// wsConfig is what the Set methods override for one connection; zero
// values take the Settings.
type wsConfig struct {
	pingInterval, pingTimeout time.Duration
	maxMessageSize            int64
	sendQueueSize             int
	reuseBuffers              bool
}

// webSocketHooks is WebSocketHooks (hooks.go) under the name the runtime
// uses.
type webSocketHooks = WebSocketHooks

// Open is called when a connection is requested, after the handshake
// checks and before the 101 response; args are the route's positional
// groups. Returning an error refuses the connection with that HTTP
// status. The default does nothing.
func (h *WebSocketHandler) Open(args ...string) error { return nil }

// OnMessage is called for each message, in order. Returning an error (or
// panicking) closes the connection with 1011. The default drops messages.
func (h *WebSocketHandler) OnMessage(m Message) error { return nil }

// OnClose is called once when the connection has closed, or when Open
// refused it (undo there what Open did); CloseCode and CloseReason tell
// what the peer sent. The default does nothing.
func (h *WebSocketHandler) OnClose() {}

// CheckOrigin decides whether a browser's Origin may connect. It is not
// called for requests without an Origin header (non-browser clients). The
// default allows only the same origin: origin's host[:port] must equal
// the Host header (Host: a trusted proxy's X-Forwarded-Host, see
// Settings.TrustedProxies), compared case-insensitively. Override it to allow
// others; return true only for origins you trust, since a cross-site page
// connecting with the user's cookies is the attack it prevents.
func (h *WebSocketHandler) CheckOrigin(origin string) bool {
	return websocket.SameOrigin(origin, h.Host())
}

// SelectSubprotocol chooses one of the subprotocols the client offered
// (Sec-WebSocket-Protocol), or "" for none; a name that was not offered
// counts as none (and is logged). The default chooses none.
func (h *WebSocketHandler) SelectSubprotocol(offered []string) string { return "" }

// OnPing is called with the payload of each ping from the peer, after the
// pong was sent; the payload is valid only during the call. The default
// does nothing.
func (h *WebSocketHandler) OnPing(payload []byte) {}

// OnPong is called with the payload of each pong; valid only during the
// call. The default does nothing.
func (h *WebSocketHandler) OnPong(payload []byte) {}

// CompressionOptions returns the permessage-deflate options for this
// connection, nil to leave compression off, as Tornado's
// get_compression_options. It is called before Open; the default returns
// Settings.WebSocketCompression. Compression is used only when the client
// offers it (browsers do).
func (h *WebSocketHandler) CompressionOptions() *websocket.CompressionOptions {
	return h.app.settings.WebSocketCompression
}

// Compressed reports whether the connection negotiated permessage-deflate.
func (h *WebSocketHandler) Compressed() bool {
	c := h.connection()
	return c != nil && c.Compressed()
}

// connection is the open connection, nil before the 101.
func (h *WebSocketHandler) connection() *websocket.Conn {
	if h.ws == nil {
		return nil
	}
	return h.ws.Conn()
}

// peerClose is the peer's close frame, nil if none (yet).
func (h *WebSocketHandler) peerClose() *websocket.CloseError {
	if c := h.connection(); c != nil {
		return c.PeerClose()
	}
	return nil
}

// Subprotocol returns the subprotocol chosen by SelectSubprotocol, "" for
// none. It is set before Open.
func (h *WebSocketHandler) Subprotocol() string { return h.subprotocol }

// CloseCode returns the status code of the peer's close frame, 0 if it
// sent none (yet). Read it in OnClose.
func (h *WebSocketHandler) CloseCode() int {
	if c := h.peerClose(); c != nil && c.Code != websocket.StatusNoStatusReceived {
		return int(c.Code)
	}
	return 0
}

// CloseReason returns the reason of the peer's close frame, "" if none.
func (h *WebSocketHandler) CloseReason() string {
	if c := h.peerClose(); c != nil {
		return c.Reason
	}
	return ""
}

// SetNoDelay sets TCP_NODELAY on the connection (on by default in Go).
// It has no effect before the connection is open or on non-TCP transports.
func (h *WebSocketHandler) SetNoDelay(noDelay bool) error {
	c := h.connection()
	if c == nil {
		return nil
	}
	if tc, ok := c.NetConn().(*net.TCPConn); ok {
		return tc.SetNoDelay(noDelay)
	}
	return nil
}

// SetPingInterval overrides Settings.WebSocketPingInterval and
// WebSocketPingTimeout for this connection (timeout 0 means the
// interval). Call it in Initialize, Prepare or Open.
func (h *WebSocketHandler) SetPingInterval(interval, timeout time.Duration) {
	if timeout <= 0 {
		timeout = interval
	}
	h.conf.pingInterval, h.conf.pingTimeout = interval, timeout
	h.reconfigure()
}

// SetMaxMessageSize overrides Settings.WebSocketMaxMessageSize for this
// connection. Call it in Initialize, Prepare or Open.
func (h *WebSocketHandler) SetMaxMessageSize(n int64) { h.conf.maxMessageSize = n }

// SetReuseMessageBuffers makes the connection read messages into pooled
// buffers: Message.Data is then valid only until OnMessage returns, when
// its buffer is reused for another message, so copy what you keep
// (WriteMessage copies what it cannot send at once, so echoing or
// forwarding Data is fine). It saves an allocation per message, and the
// garbage collector's work for it, which at thousands of messages a
// second is a large part of a server's CPU. Call it in Initialize,
// Prepare or Open.
func (h *WebSocketHandler) SetReuseMessageBuffers(reuse bool) {
	h.conf.reuseBuffers = reuse
	h.reconfigure()
}

// SetSendQueueSize overrides Settings.WebSocketSendQueueSize for this
// connection. Call it in Initialize, Prepare or Open.
func (h *WebSocketHandler) SetSendQueueSize(n int) {
	h.conf.sendQueueSize = n
	h.reconfigure()
}

// reconfigure hands a Set method's change made in Open to the session;
// earlier ones reach it when it is made.
func (h *WebSocketHandler) reconfigure() {
	if h.ws != nil {
		h.ws.SetOptions(h.sessionOptions())
	}
}

// serveWebSocket runs the connection's lifecycle on the request goroutine;
// Application.serve calls it after init.
func (h *WebSocketHandler) serveWebSocket() {
	rh := &h.RequestHandler
	hooks, ok := rh.self.(webSocketHooks)
	if !ok {
		rh.sendError(fmt.Errorf("tornago: %T embeds WebSocketHandler but overrides one of its methods with another signature (Open(args ...string) error, OnMessage(Message) error, OnClose(), CheckOrigin(string) bool, ...)", rh.self))
		return
	}
	if err := rh.runPrepare(); err != nil {
		rh.sendError(err)
		return
	}
	if rh.finished {
		return
	}
	opts := &websocket.AcceptOptions{
		CheckOrigin: func(r *http.Request) bool {
			origin := r.Header.Get("Origin")
			if origin == "" {
				origin = r.Header.Get("Sec-WebSocket-Origin") // protocol versions 7 and 8
			}
			return origin == "" || hooks.CheckOrigin(origin)
		},
	}
	if err := websocket.CheckRequest(rh.request(), opts); err != nil {
		var herr *websocket.HandshakeError
		if errors.As(err, &herr) {
			h.refuse(herr)
			return
		}
		rh.sendError(err)
		return
	}
	if offered := websocket.OfferedSubprotocols(rh.request()); len(offered) > 0 {
		if p := hooks.SelectSubprotocol(offered); slices.Contains(offered, p) {
			h.subprotocol = p
		} else if p != "" {
			rh.app.logger.Warn("tornago: SelectSubprotocol chose a subprotocol the client did not offer; using none",
				"chosen", p, "offered", offered)
		}
	}
	// The request's context must outlive net/http's handler, which
	// returns once the connection is ours (below): from here on it is one
	// that ends when the WebSocket does, so Open can already use it.
	ctx, cancel := context.WithCancel(context.WithoutCancel(rh.request().Context()))
	h.endContext = cancel
	s, err := rh.app.sockets.NewSession((*socketEvents)(h), h.sessionOptions())
	if err != nil {
		cancel()
		if errors.Is(err, websocket.ErrGroupClosed) {
			err = HTTPError{Code: http.StatusServiceUnavailable, Message: "server shutting down"}
		}
		rh.sendError(err)
		return
	}
	h.ws = s
	r := rh.request().WithContext(ctx)
	rh.req.Store(r)
	// From Open on, a handshake that does not complete ends like any
	// connection: writes fail with ErrClosed (so a hub room the handler
	// joined in Open drops it), OnClose runs once, and the application
	// lets it go. That covers a refused Open, a panic in Open and a
	// failed takeover alike.
	handedOff := false
	defer func() {
		if !handedOff {
			s.Cancel()
		}
	}()
	if err := hooks.Open(rh.args...); err != nil {
		rh.sendError(err)
		return
	}
	aopts := h.acceptOptions(hooks)
	conn, err := websocket.Accept(rh.w, r, &aopts)
	if err != nil {
		// The checks passed above, so only taking over the connection can
		// fail here.
		rh.app.logger.Error("tornago: WebSocket handshake failed after Open", "error", err, "uri", r.RequestURI)
		return
	}
	rh.status = http.StatusSwitchingProtocols
	if r.ProtoMajor >= 2 {
		rh.status = http.StatusOK // RFC 8441's answer
	}
	rh.finished = true
	rh.headersWritten = true
	rh.logAccess()
	// The response headers went out with the 101; an idle connection
	// need not keep them (headers set from now on go nowhere).
	rh.header, rh.buf = nil, nil
	// Nor need it keep the request's header map and URL until someone
	// asks for them again.
	rh.compact = compactRequestOf(r)
	rh.req.Store((*http.Request)(nil))

	// The connection is ours now. The session reads it on this goroutine
	// (whose stack has grown already; a goroutine of its own would start
	// on 2 KiB and grow) until it goes quiet and parks, a slow OnMessage
	// has the reading moved to a goroutine of its own, or it ends; then
	// net/http's handler returns (over HTTP/1.1), which frees the request
	// goroutine's deep stack for as long as the WebSocket stays quiet.
	rh.w = hijackedWriter{}
	handedOff = true
	s.Serve(conn)
	if r.ProtoMajor >= 2 {
		// Over HTTP/2 the connection is a stream of net/http's, which
		// ends when this handler returns: the request goroutine stays
		// until the session has closed it, whoever reads it now.
		<-conn.Done()
	}
}

// socketEvents is a WebSocketHandler as its session's events: the same
// memory under another method set, so the session holds the handler
// itself rather than an adapter allocated for each connection. Each
// event goes to the hooks of the user's type (self), which serveWebSocket
// has checked implements them.
type socketEvents WebSocketHandler

func (e *socketEvents) hooks() webSocketHooks { return e.self.(webSocketHooks) }

func (e *socketEvents) OnMessage(m Message) error { return e.hooks().OnMessage(m) }
func (e *socketEvents) OnPing(payload []byte)     { e.hooks().OnPing(payload) }
func (e *socketEvents) OnPong(payload []byte)     { e.hooks().OnPong(payload) }

// OnClose runs the handler's OnClose, then ends the request's context.
func (e *socketEvents) OnClose() {
	defer e.endContext()
	e.hooks().OnClose()
}

// sessionOptions are the session's settings: the Settings, unless a Set
// method overrode them.
func (h *WebSocketHandler) sessionOptions() websocket.SessionOptions {
	st := &h.app.settings
	o := websocket.SessionOptions{
		PingInterval:        st.WebSocketPingInterval,
		PingTimeout:         st.WebSocketPingTimeout,
		SendQueueSize:       st.WebSocketSendQueueSize,
		SendTimeout:         st.WebSocketSendTimeout,
		InboxSize:           int64(st.WebSocketInboxSize),
		ReuseMessageBuffers: h.conf.reuseBuffers,
		Logger:              h.app.logger,
	}
	if h.conf.pingInterval != 0 {
		o.PingInterval, o.PingTimeout = h.conf.pingInterval, h.conf.pingTimeout
	}
	if h.conf.sendQueueSize != 0 {
		o.SendQueueSize = h.conf.sendQueueSize
	}
	return o
}

// acceptOptions builds the core's options once Open has run.
func (h *WebSocketHandler) acceptOptions(hooks webSocketHooks) websocket.AcceptOptions {
	st := &h.app.settings
	var header http.Header // what the handler set for the 101: cookies, mostly
	for k, v := range h.header {
		if k == "Content-Type" { // clear's default, meaningless on a 101
			continue
		}
		if header == nil {
			header = make(http.Header, len(h.header))
		}
		header[k] = slices.Clone(v)
	}
	var protocols []string // the one SelectSubprotocol chose, which the client offered
	if h.subprotocol != "" {
		protocols = []string{h.subprotocol}
	}
	readLimit := h.conf.maxMessageSize
	if readLimit == 0 {
		readLimit = st.WebSocketMaxMessageSize
	}
	return websocket.AcceptOptions{
		ConnOptions: websocket.ConnOptions{
			ReadLimit:    readLimit,
			MaxFragments: st.WebSocketMaxMessageFragments,
			CloseTimeout: st.WebSocketCloseTimeout,
		},
		CheckOrigin:  originChecked,
		Subprotocols: protocols,
		Compression:  hooks.CompressionOptions(),
		Header:       header,
	}
}

// originChecked is Accept's origin rule after CheckRequest has applied
// the handler's (CheckOrigin) to the same request: a static function,
// where passing the handler's closure on to Accept would allocate it on
// every handshake.
func originChecked(*http.Request) bool { return true }

// hijackedWriter stands in for the ResponseWriter once the connection has
// been taken over, so that a stray call on the handler cannot reach
// net/http's released response.
type hijackedWriter struct{}

func (hijackedWriter) Header() http.Header        { return http.Header{} }
func (hijackedWriter) Write([]byte) (int, error)  { return 0, http.ErrHijacked }
func (hijackedWriter) WriteHeader(statusCode int) {}

// refuse answers a failed handshake check as Tornado does: the status and
// the message as the body.
func (h *WebSocketHandler) refuse(herr *websocket.HandshakeError) {
	rh := &h.RequestHandler
	switch herr.Status {
	case http.StatusMethodNotAllowed:
		rh.header.Set("Allow", http.MethodGet)
	case http.StatusUpgradeRequired:
		rh.header.Set("Sec-WebSocket-Version", "13")
	}
	rh.SetStatus(herr.Status)
	rh.header.Set("Content-Type", "text/plain; charset=utf-8")
	if err := rh.Write(herr.Message); err != nil {
		rh.sendError(err)
		return
	}
	_ = rh.Finish()
}
