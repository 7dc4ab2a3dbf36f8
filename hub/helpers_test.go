package hub_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/websocket"
)

// roomSocket joins the rooms named by ?room= and the user named by ?user=
// in Open, and leaves everything in OnClose.
type roomSocket struct {
	tornago.WebSocketHandler
	srv *server
}

func (s *roomSocket) Open(args ...string) error {
	rooms, err := s.GetArguments("room")
	if err != nil {
		return err
	}
	for _, r := range rooms {
		s.srv.hub.Join(r, s)
	}
	if user, _ := s.GetArgument("user", tornago.Default("")); user != "" {
		s.srv.hub.JoinUser(user, s)
	}
	if q, _ := s.GetArgument("queue", tornago.Default("")); q != "" {
		var n int
		if _, err := fmt.Sscan(q, &n); err != nil {
			return err
		}
		s.SetSendQueueSize(n)
	}
	s.srv.opened <- s
	return nil
}

func (s *roomSocket) OnClose() {
	s.srv.hub.LeaveAll(s)
	s.srv.closed.Add(1)
}

// server is an Application serving roomSocket at /ws with hub h over TCP.
type server struct {
	hub    *hub.Hub
	app    *tornago.Application
	url    string
	opened chan *roomSocket
	closed atomic.Int32
}

func startServer(t *testing.T, h *hub.Hub, settings tornago.Settings) *server {
	t.Helper()
	srv := &server{hub: h, opened: make(chan *roomSocket, 2000)}
	if settings.Logger == nil {
		settings.Logger = slog.New(slog.DiscardHandler)
	}
	app, err := tornago.NewApplication([]tornago.Route{{
		Pattern: `/ws`,
		Handler: func() tornago.Handler { return &roomSocket{srv: srv} },
	}}, settings)
	require.NoError(t, err)
	hs := httptest.NewServer(app)
	t.Cleanup(func() {
		hs.Close()
		require.NoError(t, app.Shutdown(context.Background()))
	})
	srv.app = app
	srv.url = "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
	return srv
}

// client is a websocket.Conn to a server and the roomSocket serving it.
type client struct {
	*websocket.Conn
	sock *roomSocket
}

// connect dials the server with query (e.g. "room=a&user=ann") and waits
// for its handler's Open.
func (srv *server) connect(t *testing.T, query string) *client {
	t.Helper()
	c, resp, err := websocket.Dial(context.Background(), srv.url+"?"+query, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	t.Cleanup(func() { c.CloseNow() })
	select {
	case s := <-srv.opened:
		return &client{Conn: c, sock: s}
	case <-time.After(5 * time.Second):
		t.Fatal("handler not opened")
		return nil
	}
}

// readText reads one text message within a deadline.
func (c *client) readText(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, data, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	require.Equal(t, websocket.TextMessage, typ)
	return string(data)
}

// expect reads len(want) messages and compares them in order.
func (c *client) expect(t *testing.T, want ...string) {
	t.Helper()
	got := make([]string, 0, len(want))
	for range want {
		got = append(got, c.readText(t))
	}
	require.Equal(t, want, got)
}

// seq returns prefix0 .. prefix(n-1).
func seq(prefix string, n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return s
}

// fakeMember counts what it receives; for benchmarks and tests that need
// no sockets.
type fakeMember struct {
	mu     sync.Mutex
	got    []string
	count  atomic.Int64
	keep   bool
	closed atomic.Bool
}

func (f *fakeMember) WritePrepared(pm *websocket.PreparedMessage) error {
	if f.closed.Load() {
		return tornago.ErrClosed
	}
	if f.keep {
		f.mu.Lock()
		f.got = append(f.got, string(pm.Data()))
		f.mu.Unlock()
	}
	f.count.Add(1)
	return nil
}

func (f *fakeMember) received() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}
