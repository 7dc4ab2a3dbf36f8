package tornago_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/tornagotest"
	"github.com/tornago/tornago/websocket"
)

type echoSocket struct {
	tornago.WebSocketHandler
	closed *atomic.Int32
}

func (h *echoSocket) Open(args ...string) error {
	if deny, _ := h.GetArgument("deny", tornago.Default("")); deny != "" {
		return tornago.HTTPError{Code: http.StatusUnauthorized}
	}
	if err := h.SetSecureCookie("session", "s1"); err != nil {
		return err
	}
	name, err := h.GetArgument("name", tornago.Default("anon"))
	if err != nil {
		return err
	}
	return h.WriteText("hello " + name)
}

func (h *echoSocket) OnMessage(m tornago.Message) error {
	switch m.Text() {
	case "panic":
		panic("boom")
	case "fail":
		return errors.New("handler failed")
	}
	return h.WriteMessage(m.Data, m.Binary)
}

func (h *echoSocket) OnClose() {
	if h.closed != nil {
		h.closed.Add(1)
	}
}

func startEchoApp(t *testing.T, closed *atomic.Int32) (*tornago.Application, string) {
	t.Helper()
	app, err := tornago.NewApplication([]tornago.Route{{
		Pattern: `/ws`,
		Handler: func() tornago.Handler { return &echoSocket{closed: closed} },
	}}, tornago.Settings{CookieSecret: "secret", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return app, "ws://" + tornagotest.NewServer(t, app).Addr + "/ws"
}

func dial(t *testing.T, url string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.Dial(context.Background(), url, opts)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func TestWebSocketHandlerEcho(t *testing.T) {
	var closed atomic.Int32
	_, url := startEchoApp(t, &closed)
	c, resp, err := websocket.Dial(context.Background(), url+"?name=ann", nil)
	require.NoError(t, err)
	defer c.CloseNow()
	assert.Contains(t, resp.Header.Get("Set-Cookie"), "session=", "cookie set in Open rides on the 101")
	ctx := context.Background()
	_, msg, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	assert.Equal(t, "hello ann", string(msg))
	for _, typ := range []websocket.MessageType{websocket.TextMessage, websocket.BinaryMessage} {
		require.NoError(t, c.WriteMessage(ctx, typ, []byte("ping me")))
		gotTyp, got, err := c.ReadMessage(ctx)
		require.NoError(t, err)
		assert.Equal(t, typ, gotTyp)
		assert.Equal(t, "ping me", string(got))
	}
	require.NoError(t, c.Close(4000, "bye"))
	require.Eventually(t, func() bool { return closed.Load() == 1 }, 2*time.Second, 5*time.Millisecond)
}

func TestWebSocketHandlerOpenErrorIsHTTPStatus(t *testing.T) {
	var closed atomic.Int32
	_, url := startEchoApp(t, &closed)
	_, resp, err := websocket.Dial(context.Background(), url+"?deny=1", nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Eventually(t, func() bool { return closed.Load() == 1 }, 5*time.Second, 5*time.Millisecond,
		"OnClose follows a refused Open, so it can undo what Open did")
}

func TestWebSocketHandlerCrossOrigin(t *testing.T) {
	_, url := startEchoApp(t, nil)
	_, resp, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{
		Header: http.Header{"Origin": {"http://evil.example"}}})
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestWebSocketHandlerFailuresClose1011(t *testing.T) {
	for _, what := range []string{"panic", "fail"} {
		t.Run(what, func(t *testing.T) {
			var closed atomic.Int32
			_, url := startEchoApp(t, &closed)
			c := dial(t, url, nil)
			ctx := context.Background()
			_, _, err := c.ReadMessage(ctx) // hello
			require.NoError(t, err)
			require.NoError(t, c.WriteMessage(ctx, websocket.TextMessage, []byte(what)))
			_, _, err = c.ReadMessage(ctx)
			var ce *websocket.CloseError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, websocket.StatusInternalError, ce.Code)
			require.Eventually(t, func() bool { return closed.Load() == 1 }, 2*time.Second, 5*time.Millisecond)
			// The server still serves others.
			c2 := dial(t, url, nil)
			_, msg, err := c2.ReadMessage(ctx)
			require.NoError(t, err)
			assert.Equal(t, "hello anon", string(msg))
		})
	}
}

func TestWebSocketHandlerShutdown(t *testing.T) {
	var closed atomic.Int32
	app, url := startEchoApp(t, &closed)
	const n = 20
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = dial(t, url, nil)
		_, _, err := conns[i].ReadMessage(context.Background())
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	codes := make([]websocket.StatusCode, n)
	for i, c := range conns {
		wg.Go(func() {
			_, _, err := c.ReadMessage(context.Background())
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				codes[i] = ce.Code
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, app.Shutdown(ctx))
	wg.Wait()
	assert.Equal(t, int32(n), closed.Load())
	for _, code := range codes {
		assert.Equal(t, websocket.StatusGoingAway, code)
	}
}

type ctxSocket struct {
	tornago.WebSocketHandler
	done chan error
}

func (h *ctxSocket) Open(args ...string) error {
	ctx := h.Request().Context()
	go func() {
		<-ctx.Done()
		h.done <- ctx.Err()
	}()
	return nil
}

func TestWebSocketHandlerRequestContextLastsForTheConnection(t *testing.T) {
	done := make(chan error, 1)
	app, err := tornago.NewApplication([]tornago.Route{{
		Pattern: `/ws`,
		Handler: func() tornago.Handler { return &ctxSocket{done: done} },
	}}, tornago.Settings{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	srv := httptest.NewServer(app)
	defer srv.Close()
	c := dial(t, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	select {
	case err := <-done:
		t.Fatalf("request context ended while the WebSocket is open: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("request context not cancelled after the WebSocket closed")
	}
	require.NoError(t, app.Shutdown(context.Background()))
}
