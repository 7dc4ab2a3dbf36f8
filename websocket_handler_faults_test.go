package tornago_test

// The fixtures of the WebSocketHandler fault tests: an Application served
// over real TCP and probe-driven handlers (raw-frame peers come from
// internal/rawpeer). The tests are in files named after the phase of a
// connection they exercise: websocket_open_test.go (handshake and Open),
// websocket_messages_test.go (reading, writing, limits) and
// websocket_close_test.go (closing, OnClose, Shutdown).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/tornagotest"
	"github.com/tornago/tornago/websocket"
)

// wsApp is an Application served by its own Serve on a loopback listener
// (tornagotest.Server), so that Shutdown stops the HTTP server as well as
// the WebSockets.
type wsApp struct{ *tornagotest.Server }

// serveWS serves routes with settings (quiet logger and a cookie secret
// filled in) and shuts the application down when the test ends.
func serveWS(t *testing.T, settings tornago.Settings, routes ...tornago.Route) *wsApp {
	t.Helper()
	if settings.Logger == nil {
		settings.Logger = slog.New(slog.DiscardHandler)
	}
	if settings.CookieSecret == "" {
		settings.CookieSecret = "faults-secret"
	}
	app, err := tornago.NewApplication(routes, settings)
	require.NoError(t, err)
	return &wsApp{tornagotest.NewServer(t, app)}
}

// shutdown stops the application now (once): Shutdown, then Serve's return.
func (a *wsApp) shutdown(*testing.T) { a.Close() }

func (a *wsApp) url(path string) string { return "ws://" + a.Addr + path }

// probe configures faultSocket handlers and records what happened to them.
// Its hook functions run on the handlers' goroutines.
type probe struct {
	open      func(h *faultSocket, args ...string) error
	message   func(h *faultSocket, m tornago.Message) error
	origin    func(origin string) bool
	subproto  func(offered []string) string
	onClose   func(h *faultSocket)
	onPing    func(payload []byte)
	onPong    func(payload []byte)
	opened    chan *faultSocket // each handler whose Open succeeded, if set
	opens     atomic.Int32
	closes    atomic.Int32
	closeInfo chan closeInfo // CloseCode and CloseReason seen in OnClose
	selects   atomic.Int32
}

type closeInfo struct {
	code   int
	reason string
}

func newProbe() *probe { return &probe{closeInfo: make(chan closeInfo, 2000)} }

// route serves faultSockets driven by p at pattern.
func (p *probe) route(pattern string) tornago.Route {
	return tornago.Route{Pattern: pattern, Handler: func() tornago.Handler { return &faultSocket{p: p} }}
}

// waitCloses waits until OnClose ran n times.
func (p *probe) waitCloses(t *testing.T, n int32, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return p.closes.Load() >= n }, within, 2*time.Millisecond,
		"OnClose ran %d times, want %d", p.closes.Load(), n)
}

// nextOpened returns the next handler whose Open succeeded.
func (p *probe) nextOpened(t *testing.T) *faultSocket {
	t.Helper()
	select {
	case h := <-p.opened:
		return h
	case <-time.After(5 * time.Second):
		t.Fatal("no handler opened")
		return nil
	}
}

// faultSocket is a WebSocket handler whose behaviour comes from a probe.
// Without a message hook it echoes, and the texts "close", "fail" and
// "panic" close with 4002, return an error and panic.
type faultSocket struct {
	tornago.WebSocketHandler
	p *probe
}

func (h *faultSocket) Open(args ...string) error {
	h.p.opens.Add(1)
	if h.p.open != nil {
		if err := h.p.open(h, args...); err != nil {
			return err
		}
	}
	if h.p.opened != nil {
		h.p.opened <- h
	}
	return nil
}

func (h *faultSocket) OnMessage(m tornago.Message) error {
	if h.p.message != nil {
		return h.p.message(h, m)
	}
	if !m.Binary {
		switch m.Text() {
		case "close":
			return h.Close(4002, "server bye")
		case "fail":
			return errors.New("handler failed")
		case "panic":
			panic("boom")
		}
	}
	return h.WriteMessage(m.Data, m.Binary)
}

func (h *faultSocket) OnClose() {
	h.p.closes.Add(1)
	h.p.closeInfo <- closeInfo{code: h.CloseCode(), reason: h.CloseReason()}
	if h.p.onClose != nil {
		h.p.onClose(h)
	}
}

func (h *faultSocket) OnPing(payload []byte) {
	if h.p.onPing != nil {
		h.p.onPing(payload)
	}
}

func (h *faultSocket) OnPong(payload []byte) {
	if h.p.onPong != nil {
		h.p.onPong(payload)
	}
}

func (h *faultSocket) CheckOrigin(origin string) bool {
	if h.p.origin != nil {
		return h.p.origin(origin)
	}
	return h.WebSocketHandler.CheckOrigin(origin)
}

func (h *faultSocket) SelectSubprotocol(offered []string) string {
	h.p.selects.Add(1)
	if h.p.subproto != nil {
		return h.p.subproto(offered)
	}
	return ""
}

// GetCurrentUser is the user named by the X-User header, none without it.
func (h *faultSocket) GetCurrentUser() (any, error) {
	if u := h.Request().Header.Get("X-User"); u != "" {
		return u, nil
	}
	return nil, nil
}

// readUntilClose reads and drops messages until the connection ends and
// returns the close code and reason the server sent, or the error when the
// connection ended without a close frame or did not end within the time.
func readUntilClose(c *websocket.Conn, within time.Duration) (websocket.StatusCode, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		_, _, err := c.ReadMessage(ctx)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return 0, "", fmt.Errorf("connection still open after %v: %w", within, err)
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason, nil
		}
		return 0, "", err
	}
}

// readText reads one message and returns it as a string.
func readText(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	return string(b)
}

func sendText(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	require.NoError(t, c.WriteMessage(context.Background(), websocket.TextMessage, []byte(s)))
}
