package tornago_test

// Public WebSocketHandler and Application behaviour that no other test
// reaches: Compressed, a panic on the read path, Shutdown's deadline,
// Application.Logger and PathKwargs. (A subprotocol the client never
// offered: TestWSFaultUnofferedSubprotocolIsNone.)

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/rawpeer"
	"github.com/tornago/tornago/websocket"
)

// TestWSCompressedReportsNegotiation: Compressed is true exactly when the
// client and the server's settings agreed on permessage-deflate.
func TestWSCompressedReportsNegotiation(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.message = func(h *faultSocket, m tornago.Message) error {
		return h.WriteText(strconv.FormatBool(h.Compressed()))
	}
	on := serveWS(t, tornago.Settings{WebSocketCompression: &websocket.CompressionOptions{}}, p.route("/ws"))
	off := serveWS(t, tornago.Settings{}, p.route("/ws"))
	for _, tc := range []struct {
		name   string
		a      *wsApp
		client *websocket.CompressionOptions
		want   string
	}{
		{"both offer", on, &websocket.CompressionOptions{}, "true"},
		{"client does not offer", on, nil, "false"},
		{"server does not accept", off, &websocket.CompressionOptions{}, "false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := websocket.Dial(context.Background(), tc.a.url("/ws"), &websocket.DialOptions{Compression: tc.client})
			require.NoError(t, err)
			defer c.CloseNow()
			sendText(t, c, "compressed?")
			assert.Equal(t, tc.want, readText(t, c))
			assert.Equal(t, tc.want == "true", c.Compressed(), "the client agrees")
		})
	}
}

// TestWSPanicOnReadPathRecovered: a panic in a hook the reader calls
// (OnPing) drops that connection, runs OnClose and is logged; the server
// goes on serving.
func TestWSPanicOnReadPathRecovered(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	p := newProbe()
	p.onPing = func(payload []byte) {
		if string(payload) == "panic" {
			panic("ping hook broke")
		}
	}
	a := serveWS(t, tornago.Settings{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, p.route("/ws"))
	ws := rawpeer.Dial(t, a.Addr, "/ws", nil)
	ws.Send(rawpeer.Frame{B0: rawpeer.FIN | byte(rawpeer.OpPing), Payload: []byte("panic")})
	require.NoError(t, ws.Conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err := io.Copy(io.Discard, ws.R)
	require.NoError(t, err, "the server closes the connection")
	p.waitCloses(t, 1, 10*time.Second)
	assert.Contains(t, logs.String(), "panic serving a WebSocket")
	assert.Contains(t, logs.String(), "ping hook broke")

	c, _, err := websocket.Dial(context.Background(), a.url("/ws"), nil)
	require.NoError(t, err, "the server still serves")
	sendText(t, c, "still here")
	assert.Equal(t, "still here", readText(t, c))
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
}

// TestShutdownDeadlineForceCloses: a peer that never answers the close
// frame does not hold Shutdown past its context: Shutdown returns the
// context's error, and the connection is closed then, not when the
// closing handshake's own wait (5 s) would give up.
func TestShutdownDeadlineForceCloses(t *testing.T) {
	t.Parallel()
	p := newProbe()
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	ws := rawpeer.Dial(t, a.Addr, "/ws", nil)
	eof := make(chan time.Time, 1)
	go func() {
		_, _ = io.Copy(io.Discard, ws.R) // the 1001 close frame, then EOF
		eof <- time.Now()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := a.App.Shutdown(ctx)
	returned := time.Now()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	select {
	case at := <-eof:
		assert.Less(t, at.Sub(returned), 3*time.Second, "closed by the deadline, not by the handshake's 5 s wait")
	case <-time.After(4 * time.Second):
		t.Fatal("the connection was still open 4 s after Shutdown gave up")
	}
	p.waitCloses(t, 1, 10*time.Second)
	ws.Conn.Close()
}

// TestApplicationLogger: Logger is the logger of the settings, the one
// the application writes its own lines to, and a default when none is set.
func TestApplicationLogger(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	l := slog.New(slog.NewTextHandler(&logs, nil))
	app, err := tornago.NewApplication(route("/", fn(func(h *funcHandler, _ ...string) error { return nil })), tornago.Settings{Logger: l})
	require.NoError(t, err)
	assert.Same(t, l, app.Logger())
	srv := httptest.NewServer(app)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Contains(t, logs.String(), "200 GET /", "the access log goes to Logger")

	app, err = tornago.NewApplication(nil, tornago.Settings{})
	require.NoError(t, err)
	assert.NotNil(t, app.Logger())
}

// TestHandlerForPathKwargs: the PathKwargs option supplies a host router's path
// parameters as the handler's PathKwargs, WebSocket handlers included.
func TestHandlerForPathKwargs(t *testing.T) {
	t.Parallel()
	app, err := tornago.NewApplication(nil, tornago.Settings{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	params := tornago.PathKwargs(func(r *http.Request) map[string]string {
		return map[string]string{"room": r.URL.Query().Get("room"), "user": r.Header.Get("X-User")}
	})
	p := newProbe()
	p.open = func(h *faultSocket, _ ...string) error {
		return h.WriteText(h.PathKwarg("room") + "/" + h.PathKwarg("user"))
	}
	mux := http.NewServeMux()
	mux.Handle("/page", app.HandlerFor(fn(func(h *funcHandler, _ ...string) error {
		return h.Write(h.PathKwargs())
	}), params))
	mux.Handle("/ws", app.HandlerFor(func() tornago.Handler { return &faultSocket{p: p} }, params))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	t.Cleanup(func() { assert.NoError(t, app.Shutdown(context.Background())) })

	req, err := http.NewRequest(http.MethodGet, srv.URL+"/page?room=lobby", nil)
	require.NoError(t, err)
	req.Header.Set("X-User", "ann")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(bufio.NewReader(resp.Body))
	resp.Body.Close()
	require.NoError(t, err)
	assert.JSONEq(t, `{"room":"lobby","user":"ann"}`, string(b))

	c, _, err := websocket.Dial(context.Background(), "ws"+srv.URL[len("http"):]+"/ws?room=den",
		&websocket.DialOptions{Header: http.Header{"X-User": {"bob"}}})
	require.NoError(t, err)
	defer c.CloseNow()
	assert.Equal(t, "den/bob", readText(t, c))
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
}
