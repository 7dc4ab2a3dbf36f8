package tornago_test

//lint:file-ignore SA1019 x/net's http2.Transport is deprecated in favour of net/http's, which cannot send an RFC 8441 extended CONNECT as of Go 1.26 (it rejects :protocol)

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/testenv"
	"github.com/tornago/tornago/websocket"
)

// h2Socket is a WebSocket handler that reports what it saw: the request
// as Open got it, its pongs and its OnClose calls.
type h2Socket struct {
	tornago.WebSocketHandler
	rec *h2Record
}

type h2Record struct {
	mu      sync.Mutex
	opened  []string // "HTTP/2.0 CONNECT" per Open
	closed  map[string]int
	codes   map[string]int // CloseCode in OnClose
	pong    chan struct{}
	onClose chan string
}

func (h *h2Socket) Open(args ...string) error {
	name, _ := h.GetArgument("name", tornago.Default("anon"))
	h.rec.mu.Lock()
	h.rec.opened = append(h.rec.opened, h.Request().Proto+" "+h.Request().Method)
	h.rec.mu.Unlock()
	if name == "denied" {
		return tornago.HTTPError{Code: http.StatusForbidden, Message: "no entry"}
	}
	if err := h.SetSecureCookie("session", name); err != nil {
		return err
	}
	if err := h.SetHeader("X-Socket", name); err != nil {
		return err
	}
	return h.WriteText("hello " + name)
}

func (h *h2Socket) OnMessage(m tornago.Message) error { return h.WriteMessage(m.Data, m.Binary) }

func (h *h2Socket) OnPong([]byte) {
	select {
	case h.rec.pong <- struct{}{}:
	default:
	}
}

func (h *h2Socket) OnClose() {
	name, _ := h.GetArgument("name", tornago.Default("anon"))
	h.rec.mu.Lock()
	h.rec.closed[name]++
	if h.rec.codes != nil {
		h.rec.codes[name] = h.CloseCode()
	}
	h.rec.mu.Unlock()
	h.rec.onClose <- name
}

// TestWebSocketHandlerOverHTTP2 serves a WebSocketHandler through
// ListenAndServeTLS's code path with Settings.HTTP2 and opens sockets as
// RFC 8441 streams of one HTTP/2 connection: Open runs before the 200,
// which carries its cookie and header; an error from Open is the HTTP
// status the client reads; the keepalive pings; Shutdown closes with
// 1001; OnClose runs exactly once for each.
func TestWebSocketHandlerOverHTTP2(t *testing.T) {
	t.Parallel()
	rec := &h2Record{closed: map[string]int{}, codes: map[string]int{}, pong: make(chan struct{}, 1), onClose: make(chan string, 10)}
	app, err := tornago.NewApplication([]tornago.Route{
		{Pattern: `/ws`, Handler: func() tornago.Handler { return &h2Socket{rec: rec} }},
		{Pattern: `/who`, Handler: func() tornago.Handler { return &whoAmI{} }},
	}, tornago.Settings{
		HTTP2:                 true,
		CookieSecret:          "secret",
		WebSocketPingInterval: 20 * time.Millisecond,
		WebSocketPingTimeout:  10 * time.Second,
		Logger:                slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	addr, transport, served := serveH2(t, app)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	resp, err := (&http.Client{Transport: transport}).Get("https://" + addr + "/who")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "HTTP/2.0", resp.Proto, "pages are served over HTTP/2")

	opts := &websocket.DialOptions{HTTP2Transport: transport}
	c, resp, err := websocket.Dial(ctx, "wss://"+addr+"/ws?name=ada", opts)
	require.NoError(t, err)
	defer c.CloseNow()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ada", resp.Header.Get("X-Socket"), "Open's header rides on the 200")
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "session" {
			cookie = ck
		}
	}
	require.NotNil(t, cookie, "Open's secure cookie rides on the 200")
	_, msg, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	assert.Equal(t, "hello ada", string(msg), "what Open wrote comes first")
	require.NoError(t, c.WriteMessage(ctx, websocket.TextMessage, []byte("echo me")))
	// The client answers the server's pings while it reads.
	_, msg, err = c.ReadMessage(ctx)
	require.NoError(t, err)
	assert.Equal(t, "echo me", string(msg))
	readDone := make(chan error, 1)
	go func() {
		_, _, err := c.ReadMessage(ctx)
		readDone <- err
	}()
	select {
	case <-rec.pong:
	case <-ctx.Done():
		t.Fatal("no pong: the keepalive does not ping over HTTP/2")
	}

	_, resp, err = websocket.Dial(ctx, "wss://"+addr+"/ws?name=denied", opts)
	var de *websocket.DialError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "Open's error is a status the client sees")
	assert.Equal(t, "denied", <-rec.onClose)

	// A socket whose stream the client resets (a tab closed) is a dropped
	// connection: OnClose runs once, with no close code; the others on the
	// connection go on.
	gone, _, err := websocket.Dial(ctx, "wss://"+addr+"/ws?name=gone", opts)
	require.NoError(t, err)
	_, _, err = gone.ReadMessage(ctx)
	require.NoError(t, err)
	require.NoError(t, gone.CloseNow())
	assert.Equal(t, "gone", <-rec.onClose)

	shutCtx, shutCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer shutCancel()
	require.NoError(t, app.Shutdown(shutCtx))
	require.NoError(t, <-served)
	err = <-readDone
	var ce *websocket.CloseError
	require.True(t, errors.As(err, &ce), "Shutdown closes with a close frame: %v", err)
	assert.Equal(t, websocket.StatusGoingAway, ce.Code)
	assert.Equal(t, "ada", <-rec.onClose)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Equal(t, []string{"HTTP/2.0 CONNECT", "HTTP/2.0 CONNECT", "HTTP/2.0 CONNECT"}, rec.opened)
	assert.Equal(t, map[string]int{"ada": 1, "denied": 1, "gone": 1}, rec.closed, "OnClose exactly once each")
	assert.Equal(t, 0, rec.codes["gone"], "a reset stream has no close code (1006)")
}

// TestSettingsHTTP2NeedsExtendedConnect: NewApplication refuses HTTP2 in
// a process whose net/http cannot serve WebSockets over it, rather than
// serve every browser WebSocket on a connection of its own unawares.
func TestSettingsHTTP2NeedsExtendedConnect(t *testing.T) {
	t.Setenv("GODEBUG", "")
	_, err := tornago.NewApplication(nil, tornago.Settings{HTTP2: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "GODEBUG=http2xconnect=1")
	_, err = tornago.NewApplication(nil, tornago.Settings{})
	require.NoError(t, err, "HTTP/1.1 only needs nothing")
}

// serveH2 runs app.ServeTLS (with Settings.HTTP2) on a loopback port and
// returns its address, an HTTP/2 client transport trusting its
// certificate, and the channel ServeTLS's result comes on once the test
// shuts the app down.
func serveH2(t *testing.T, app *tornago.Application) (string, *http2.Transport, <-chan error) {
	t.Helper()
	tc := testenv.NewCert(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- app.ServeTLS(l, &tls.Config{Certificates: []tls.Certificate{tc.TLS}}) }()
	transport := &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: tc.Roots}}
	t.Cleanup(transport.CloseIdleConnections)
	return l.Addr().String(), transport, served
}

// TestWebSocketGuardsOverHTTP2: the per-method rules treat an extended
// CONNECT as the GET of an HTTP/1.1 handshake: the XSRF check lets it
// through (as it does a GET; the origin check guards WebSockets), and
// Authenticated(f, "GET") still keeps an anonymous client out.
func TestWebSocketGuardsOverHTTP2(t *testing.T) {
	t.Parallel()
	rec := &h2Record{closed: map[string]int{}, pong: make(chan struct{}, 1), onClose: make(chan string, 10)}
	socket := func() tornago.Handler { return &h2Socket{rec: rec} }
	app, err := tornago.NewApplication([]tornago.Route{
		{Pattern: `/ws`, Handler: socket},
		{Pattern: `/members`, Handler: tornago.Authenticated(socket, http.MethodGet)},
	}, tornago.Settings{
		HTTP2:        true,
		CookieSecret: "secret",
		XSRFCookies:  true,
		LoginURL:     "/login",
		Logger:       slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	addr, transport, served := serveH2(t, app)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{HTTP2Transport: transport}

	c, _, err := websocket.Dial(ctx, "wss://"+addr+"/ws?name=xsrf", opts)
	require.NoError(t, err, "the XSRF check does not apply to a WebSocket handshake over HTTP/2 either")
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))

	_, resp, err := websocket.Dial(ctx, "wss://"+addr+"/members?name=anon", opts)
	require.Error(t, err, "an anonymous client opened an Authenticated socket over HTTP/2")
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusFound, resp.StatusCode, "redirected to log in, as the GET handshake is")

	require.NoError(t, app.Shutdown(ctx))
	require.NoError(t, <-served)
}

// TestHTTP2MaxConcurrentStreams: Settings.HTTP2MaxConcurrentStreams is
// the server's stream limit per connection, so a client holding more
// sockets than it allows spreads them over more TCP connections.
func TestHTTP2MaxConcurrentStreams(t *testing.T) {
	t.Parallel()
	rec := &h2Record{closed: map[string]int{}, pong: make(chan struct{}, 1), onClose: make(chan string, 10)}
	app, err := tornago.NewApplication([]tornago.Route{
		{Pattern: `/ws`, Handler: func() tornago.Handler { return &h2Socket{rec: rec} }},
	}, tornago.Settings{
		HTTP2:                     true,
		HTTP2MaxConcurrentStreams: 2,
		CookieSecret:              "secret",
		Logger:                    slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	addr, transport, served := serveH2(t, app)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	local := map[string]bool{}
	var conns []*websocket.Conn
	for range 4 {
		c, _, err := websocket.Dial(ctx, "wss://"+addr+"/ws", &websocket.DialOptions{HTTP2Transport: transport})
		require.NoError(t, err)
		defer c.CloseNow()
		conns = append(conns, c)
		local[c.LocalAddr().String()] = true // the TCP connection's
	}
	assert.Len(t, local, 2, "4 sockets at 2 streams per connection")
	for _, c := range conns {
		_, _, err := c.ReadMessage(ctx) // Open's greeting
		require.NoError(t, err)
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	}
	require.NoError(t, app.Shutdown(ctx))
	require.NoError(t, <-served)
}

// TestShutdownClosesSpareHTTP2Connection: a browser opens spare
// connections ahead of need; one that negotiated HTTP/2 and never sent
// its preface is marked active by net/http at once, and its HTTP/2 server
// waits 10 s for the preface, as long as the default ShutdownTimeout, so
// http.Server.Shutdown waited that long for it (Chromium made examples/chat
// exit 1 this way). Shutdown closes such a connection as net/http closes
// an HTTP/1.1 one that never sent a request: once it has been new for 5 s.
func TestShutdownClosesSpareHTTP2Connection(t *testing.T) {
	t.Parallel()
	app, err := tornago.NewApplication([]tornago.Route{
		{Pattern: `/who`, Handler: func() tornago.Handler { return &whoAmI{} }},
	}, tornago.Settings{HTTP2: true, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	addr, transport, served := serveH2(t, app)
	spare, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: transport.TLSClientConfig.RootCAs, NextProtos: []string{"h2"}})
	require.NoError(t, err)
	defer spare.Close()
	require.Equal(t, "h2", spare.ConnectionState().NegotiatedProtocol)

	// Well under the 10 s the HTTP/2 server would wait for the preface.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	require.NoError(t, app.Shutdown(ctx), "Shutdown waited for a connection that never sent anything")
	require.NoError(t, <-served)
}

// slowH2Socket echoes, after a pause for "slow": long enough that the
// session moves its reading to a goroutine of its own (an OnMessage that
// runs 50 ms does, at the next keepalive tick).
type slowH2Socket struct {
	tornago.WebSocketHandler
	closed chan struct{}
}

func (h *slowH2Socket) OnMessage(m tornago.Message) error {
	if m.Text() == "slow" {
		time.Sleep(500 * time.Millisecond) // slow work, not a wait for an event
	}
	return h.WriteMessage(m.Data, m.Binary)
}

func (h *slowH2Socket) OnClose() { close(h.closed) }

// TestHTTP2SlowOnMessageKeepsTheStream: over HTTP/2 the socket is a
// stream of net/http's, which ends when the handler returns. When a slow
// OnMessage has the reading moved to a new goroutine, the handler's
// goroutine stops reading, but the handler must not return before the
// socket is over: later messages are still echoed on the same stream.
func TestHTTP2SlowOnMessageKeepsTheStream(t *testing.T) {
	t.Parallel()
	closed := make(chan struct{})
	app, err := tornago.NewApplication([]tornago.Route{
		{Pattern: `/ws`, Handler: func() tornago.Handler { return &slowH2Socket{closed: closed} }},
	}, tornago.Settings{
		HTTP2:                 true,
		WebSocketPingInterval: 20 * time.Millisecond, // a keepalive tick every 20 ms
		WebSocketPingTimeout:  10 * time.Second,
		Logger:                slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	addr, transport, served := serveH2(t, app)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	c, _, err := websocket.Dial(ctx, "wss://"+addr+"/ws", &websocket.DialOptions{HTTP2Transport: transport})
	require.NoError(t, err)
	defer c.CloseNow()
	for _, m := range []string{"slow", "after", "and after"} {
		require.NoError(t, c.WriteMessage(ctx, websocket.TextMessage, []byte(m)))
		_, got, err := c.ReadMessage(ctx)
		require.NoError(t, err, "the stream ended after a slow OnMessage (message %q)", m)
		assert.Equal(t, m, string(got))
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("OnClose did not run")
	}
	require.NoError(t, app.Shutdown(ctx))
	require.NoError(t, <-served)
}
