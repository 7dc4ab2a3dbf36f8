package routers_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/mux"
	gorilla "github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/examples/mount/room"
	"github.com/tornago/tornago/examples/mount/routers"
	"github.com/tornago/tornago/websocket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server is a router serving the rooms over TCP on 127.0.0.1.
type server struct {
	app  *tornago.Application
	hub  *room.Hub
	addr string
	stop func()
}

// serve mounts the rooms with mount and serves them until the test ends
// (or stop is called).
func serve(t *testing.T, mount func(*tornago.Application, *room.Hub) http.Handler) *server {
	t.Helper()
	app, err := tornago.NewApplication(nil, tornago.Settings{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	hub := &room.Hub{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: mount(app, hub)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	stopped := false
	s := &server{app: app, hub: hub, addr: ln.Addr().String()}
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, srv.Shutdown(ctx))
		assert.NoError(t, app.Shutdown(ctx), "closes the hijacked WebSockets")
		assert.ErrorIs(t, <-served, http.ErrServerClosed)
	}
	t.Cleanup(s.stop)
	return s
}

func (s *server) url(path string) string { return "ws://" + s.addr + path }

var mounts = []struct {
	name  string
	mount func(*tornago.Application, *room.Hub) http.Handler
}{
	{"chi", routers.Chi},
	{"gorilla/mux", routers.Gorilla},
}

func join(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.Dial(context.Background(), url, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func read(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	return string(b)
}

// TestPathParamsReachOpen: the {room} the router matched arrives in Open
// as h.PathKwarg("room"), and {nick} as Open's argument through PathArgs.
func TestPathParamsReachOpen(t *testing.T) {
	for _, m := range mounts {
		t.Run(m.name, func(t *testing.T) {
			s := serve(t, m.mount)
			ann := join(t, s.url("/rooms/lobby/as/ann"))
			assert.Equal(t, "joined lobby as ann", read(t, ann))
			bob := join(t, s.url("/rooms/lobby"))
			assert.Equal(t, "joined lobby", read(t, bob))
			carol := join(t, s.url("/rooms/café"))
			assert.Equal(t, "joined café", read(t, carol))
			assert.Equal(t, 2, s.hub.Members("lobby"))

			ctx := context.Background()
			require.NoError(t, bob.WriteMessage(ctx, websocket.TextMessage, []byte("hello")))
			assert.Equal(t, "anon: hello", read(t, ann))
			assert.Equal(t, "anon: hello", read(t, bob))
			require.NoError(t, carol.WriteMessage(ctx, websocket.TextMessage, []byte("quiet here")))
			assert.Equal(t, "anon: quiet here", read(t, carol), "rooms are apart")

			_, resp, err := websocket.Dial(ctx, s.url("/nowhere"), nil)
			require.Error(t, err)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the router's own 404")

			require.NoError(t, ann.Close(websocket.StatusNormalClosure, ""))
			require.Eventually(t, func() bool { return s.hub.Members("lobby") == 1 }, 5*time.Second, 5*time.Millisecond,
				"OnClose left the room")
		})
	}
}

// TestWithoutPathParams: gorilla/mux keeps its variables to itself, so
// without PathKwargs the handler sees no room and refuses with 404. chi
// (since v5.2) also fills the request's Pattern and PathValue, as
// http.ServeMux does, which HandlerFor reads by default.
func TestWithoutPathParams(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mount  func(*tornago.Application, *room.Hub) http.Handler
		status int
	}{
		{"gorilla/mux", func(app *tornago.Application, hub *room.Hub) http.Handler {
			r := mux.NewRouter()
			r.Handle("/rooms/{room}", app.HandlerFor(hub.Factory()))
			return r
		}, http.StatusNotFound},
		{"chi", func(app *tornago.Application, hub *room.Hub) http.Handler {
			r := chi.NewRouter()
			r.Get("/rooms/{room}", app.HandlerFor(hub.Factory()).ServeHTTP)
			return r
		}, http.StatusSwitchingProtocols},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, tc.mount)
			c, resp, err := websocket.Dial(context.Background(), s.url("/rooms/lobby"), nil)
			require.NotNil(t, resp, "%v", err)
			assert.Equal(t, tc.status, resp.StatusCode)
			if err == nil {
				assert.Equal(t, "joined lobby", read(t, c))
				require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
			}
		})
	}
}

// TestGorillaClient drives the handler, mounted in each router, with
// gorilla/websocket's client: a library we did not write.
func TestGorillaClient(t *testing.T) {
	for _, m := range mounts {
		t.Run(m.name, func(t *testing.T) {
			s := serve(t, m.mount)
			dialer := &gorilla.Dialer{HandshakeTimeout: 5 * time.Second}
			c, resp, err := dialer.Dial(s.url("/rooms/lobby/as/gopher"), nil)
			require.NoError(t, err)
			defer c.Close()
			require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
			require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))

			typ, msg, err := c.ReadMessage()
			require.NoError(t, err)
			assert.Equal(t, gorilla.TextMessage, typ)
			assert.Equal(t, "joined lobby as gopher", string(msg))

			require.NoError(t, c.WriteMessage(gorilla.TextMessage, []byte("héllo")))
			_, msg, err = c.ReadMessage()
			require.NoError(t, err)
			assert.Equal(t, "gopher: héllo", string(msg))

			// Pings from gorilla are answered.
			pong := make(chan string, 1)
			c.SetPongHandler(func(data string) error { pong <- data; return nil })
			require.NoError(t, c.WriteControl(gorilla.PingMessage, []byte("p"), time.Now().Add(time.Second)))

			// A binary message makes the handler close with 1003.
			require.NoError(t, c.WriteMessage(gorilla.BinaryMessage, []byte{1, 2, 3}))
			_, _, err = c.ReadMessage() // the pong is handled inside this read
			var ce *gorilla.CloseError
			require.True(t, errors.As(err, &ce), "want a close frame, got %v", err)
			assert.Equal(t, 1003, ce.Code)
			assert.Equal(t, "text only", ce.Text)
			assert.Equal(t, "p", <-pong)
			require.Eventually(t, func() bool { return s.hub.Members("lobby") == 0 }, 5*time.Second, 5*time.Millisecond)
		})
	}
}

// TestGorillaClientSeesShutdown: the Application's Shutdown reaches
// WebSockets served through another router, with 1001.
func TestGorillaClientSeesShutdown(t *testing.T) {
	for _, m := range mounts {
		t.Run(m.name, func(t *testing.T) {
			s := serve(t, m.mount)
			c, _, err := gorilla.DefaultDialer.Dial(s.url("/rooms/lobby"), nil)
			require.NoError(t, err)
			defer c.Close()
			_, _, err = c.ReadMessage()
			require.NoError(t, err)
			read := make(chan error, 1)
			go func() {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, _, err := c.ReadMessage()
				read <- err
			}()
			s.stop()
			err = <-read
			assert.True(t, gorilla.IsCloseError(err, gorilla.CloseGoingAway), "got %v", err)
			assert.Zero(t, s.hub.Members("lobby"))
		})
	}
}
