package tornago_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/websocket"
)

// startRun runs app on a port the OS picks until the returned cancel is
// called; run's result arrives on the channel.
func startRun(t *testing.T, app *tornago.Application) (addr string, cancel context.CancelFunc, result <-chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.RunListener(ctx, l) }()
	t.Cleanup(cancel)
	return l.Addr().String(), cancel, done
}

// closeCode reads from c until the peer's close frame and returns its code.
func closeCode(t *testing.T, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	for {
		_, _, err := c.ReadMessage(context.Background())
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		require.NoError(t, err, "a read before the close frame")
	}
}

func TestRunServesUntilTheContextEndsThenClosesWebSockets(t *testing.T) {
	var closed atomic.Int32
	app, err := tornago.NewApplication([]tornago.Route{
		{Pattern: `/ws`, Handler: func() tornago.Handler { return &echoSocket{closed: &closed} }},
		{Pattern: `/`, Handler: fn(func(h *funcHandler, _ ...string) error { return h.Write("up") })},
	}, tornago.Settings{CookieSecret: "secret", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	addr, cancel, result := startRun(t, app)

	resp, err := http.Get("http://" + addr + "/")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, "up", string(body))
	c := dial(t, "ws://"+addr+"/ws", nil)
	_, hello, err := c.ReadMessage(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "hello anon", string(hello))

	cancel()
	assert.Equal(t, websocket.StatusGoingAway, closeCode(t, c))
	require.NoError(t, <-result)
	assert.Equal(t, int32(1), closed.Load(), "OnClose ran before Run returned")
	_, err = http.Get("http://" + addr + "/")
	assert.Error(t, err, "the listener is closed")
}

// A socket the application closes with its own code before the context
// ends keeps that code: Shutdown leaves closing connections alone.
func TestRunKeepsTheCloseCodeTheApplicationChose(t *testing.T) {
	sockets := make(chan *echoSocket, 1)
	app, err := tornago.NewApplication([]tornago.Route{
		{Pattern: `/ws`, Handler: func() tornago.Handler {
			h := &echoSocket{}
			sockets <- h
			return h
		}},
	}, tornago.Settings{CookieSecret: "secret", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	<-sockets // the one NewApplication inspected
	addr, cancel, result := startRun(t, app)
	c := dial(t, "ws://"+addr+"/ws", nil)
	h := <-sockets
	require.NoError(t, h.Close(int(websocket.StatusServiceRestart), "restarting"))
	cancel()
	assert.Equal(t, websocket.StatusServiceRestart, closeCode(t, c))
	require.NoError(t, <-result)
}

// TestRunClosesWithTheConfiguredCode: Settings.WebSocketShutdownCode
// replaces 1001 for every socket Run's shutdown closes (a Tornado app's
// close-everything-with-4200 on SIGTERM), and a code that may not be sent
// is refused by NewApplication.
func TestRunClosesWithTheConfiguredCode(t *testing.T) {
	app, err := tornago.NewApplication([]tornago.Route{
		{Pattern: `/ws`, Handler: func() tornago.Handler { return &echoSocket{} }},
	}, tornago.Settings{CookieSecret: "secret", Logger: slog.New(slog.DiscardHandler),
		WebSocketShutdownCode: 4200, WebSocketShutdownReason: "restarting, come back"})
	require.NoError(t, err)
	addr, cancel, result := startRun(t, app)
	conns := []*websocket.Conn{dial(t, "ws://"+addr+"/ws", nil), dial(t, "ws://"+addr+"/ws", nil)}
	codes := make(chan *websocket.CloseError, len(conns))
	for _, c := range conns {
		go func() {
			for {
				if _, _, err := c.ReadMessage(context.Background()); err != nil {
					var ce *websocket.CloseError
					errors.As(err, &ce)
					codes <- ce
					return
				}
			}
		}()
	}
	cancel()
	for range conns {
		ce := <-codes
		require.NotNil(t, ce, "a close frame")
		assert.Equal(t, websocket.StatusCode(4200), ce.Code)
		assert.Equal(t, "restarting, come back", ce.Reason)
	}
	require.NoError(t, <-result)

	for _, code := range []int{1005, 1006, 999, 5000} {
		_, err := tornago.NewApplication(nil, tornago.Settings{WebSocketShutdownCode: code})
		assert.ErrorContains(t, err, "WebSocketShutdownCode", "code %d", code)
	}
}

func TestRunShutdownIsBoundedBySettings(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	app, err := tornago.NewApplication(route(`/slow`, fn(func(h *funcHandler, _ ...string) error {
		close(started)
		<-release
		return h.Write("late")
	})), tornago.Settings{ShutdownTimeout: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	addr, cancel, result := startRun(t, app)
	got := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err == nil {
			resp.Body.Close()
		}
		got <- err
	}()
	<-started
	cancel()
	assert.ErrorIs(t, <-result, context.DeadlineExceeded, "a request still running after ShutdownTimeout")
	close(release)
	<-got
}

func TestRunFailsAtOnceOnABadAddress(t *testing.T) {
	app, err := tornago.NewApplication(nil, tornago.Settings{})
	require.NoError(t, err)
	err = app.Run(context.Background(), "127.0.0.1:-1")
	assert.ErrorContains(t, err, "tornago: listen tcp")
}
