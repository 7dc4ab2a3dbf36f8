// Package hubtest serves hub members over real TCP connections for the
// tests of hub and hub/redisbroker: an Application whose WebSocket handler
// joins the rooms its URL names, and clients that read what they receive.
package hubtest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// Socket joins the rooms named by ?room= and the user named by ?user= in
// Open (with ?recover= set, through Hub.JoinRooms, which recovers from the
// positions of the query's hub.SinceParam, and with ?presence=ID also
// records the member's presence as client ID and watches the rooms'
// presence), takes ?queue= as its send
// queue size, refuses the connection after joining when ?refuse= is set,
// and leaves everything in OnClose.
type Socket struct {
	tornago.WebSocketHandler
	srv *Server
}

// Open joins the rooms and the user of the URL.
func (s *Socket) Open(args ...string) error {
	if q, _ := s.GetArgument("queue", tornago.Default("")); q != "" {
		var n int
		if _, err := fmt.Sscan(q, &n); err != nil {
			return err
		}
		s.SetSendQueueSize(n)
	}
	rooms, err := s.GetArguments("room")
	if err != nil {
		return err
	}
	if rec, _ := s.GetArgument("recover", tornago.Default("")); rec != "" {
		ctx, cancel := context.WithTimeout(s.Request().Context(), 5*time.Second)
		defer cancel()
		var o hub.JoinOptions
		if p, _ := s.GetArgument("presence", tornago.Default("")); p != "" {
			user, _ := s.GetArgument("user", tornago.Default(""))
			o.Presence = &hub.ClientInfo{ClientID: p, UserID: user}
			o.WatchPresence = true
		}
		if _, err := s.srv.Hub.JoinRooms(ctx, s.Request().URL.Query(), s, o, rooms...); err != nil {
			return tornago.HTTPError{Code: http.StatusBadRequest, Message: err.Error()}
		}
	} else {
		for _, r := range rooms {
			s.srv.Hub.Join(r, s)
		}
	}
	if user, _ := s.GetArgument("user", tornago.Default("")); user != "" {
		s.srv.Hub.JoinUser(user, s)
	}
	if refuse, _ := s.GetArgument("refuse", tornago.Default("")); refuse != "" {
		// Refuses after joining, as an Open that checks something late does.
		return tornago.HTTPError{Code: http.StatusForbidden, Message: refuse}
	}
	s.srv.opened <- s
	return nil
}

// OnClose leaves every room and counts the close.
func (s *Socket) OnClose() {
	s.srv.Hub.LeaveAll(s)
	s.srv.Closed.Add(1)
}

// Server is an Application serving Socket at /ws with Hub, over TCP.
type Server struct {
	Hub    *hub.Hub
	App    *tornago.Application
	URL    string
	Closed atomic.Int32 // OnClose calls
	opened chan *Socket
}

// Start serves h until the test ends. settings.Logger defaults to none.
func Start(t testing.TB, h *hub.Hub, settings tornago.Settings) *Server {
	t.Helper()
	srv := &Server{Hub: h, opened: make(chan *Socket, 2000)}
	if settings.Logger == nil {
		settings.Logger = slog.New(slog.DiscardHandler)
	}
	app, err := tornago.NewApplication([]tornago.Route{{
		Pattern: `/ws`,
		Handler: func() tornago.Handler { return &Socket{srv: srv} },
	}}, settings)
	require.NoError(t, err)
	hs := httptest.NewServer(app)
	t.Cleanup(func() {
		hs.Close()
		require.NoError(t, app.Shutdown(context.Background()))
	})
	srv.App = app
	srv.URL = "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
	return srv
}

// Client is a client connection and the Socket serving it.
type Client struct {
	*websocket.Conn
	Sock *Socket
}

// Connect dials the server with query ("room=a&user=ann") and waits for
// the handler's Open, so the member has joined when it returns.
func (srv *Server) Connect(t testing.TB, query string) *Client {
	t.Helper()
	c, resp, err := websocket.Dial(context.Background(), srv.URL+"?"+query, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	t.Cleanup(func() { c.CloseNow() })
	select {
	case s := <-srv.opened:
		return &Client{Conn: c, Sock: s}
	case <-time.After(5 * time.Second):
		t.Fatal("handler not opened")
		return nil
	}
}

// ReadText reads one text message, failing after 10 seconds.
func (c *Client) ReadText(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, data, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	require.Equal(t, websocket.TextMessage, typ)
	return string(data)
}

// Expect reads len(want) messages and compares them in order.
func (c *Client) Expect(t testing.TB, want ...string) {
	t.Helper()
	got := make([]string, 0, len(want))
	for range want {
		got = append(got, c.ReadText(t))
	}
	require.Equal(t, want, got)
}

// Seq returns prefix0 .. prefix(n-1).
func Seq(prefix string, n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return s
}

// Member is a hub member without a socket that counts what it receives
// and, if Keep is set, keeps the payloads.
type Member struct {
	Keep   bool
	Count  atomic.Int64
	Closed atomic.Bool // writes fail with tornago.ErrClosed

	mu  sync.Mutex
	got []string
}

// WritePrepared implements hub.Member.
func (f *Member) WritePrepared(pm *websocket.PreparedMessage) error {
	if f.Closed.Load() {
		return tornago.ErrClosed
	}
	if f.Keep {
		f.mu.Lock()
		f.got = append(f.got, string(pm.Data()))
		f.mu.Unlock()
	}
	f.Count.Add(1)
	return nil
}

// Received returns the kept payloads.
func (f *Member) Received() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

// Frame is a frame of the hub's wire protocol, as a client decodes it.
type Frame struct {
	Tornago   string         `json:"tornago"`
	Room      string         `json:"room"`
	Epoch     string         `json:"epoch"`
	Offset    uint64         `json:"offset"`
	Data      string         `json:"data"`
	Recovered *bool          `json:"recovered"`
	Reason    string         `json:"reason"`
	Client    hub.ClientInfo `json:"client"`
}

// Position is the frame's position.
func (f Frame) Position() hub.Position { return hub.Position{Epoch: f.Epoch, Offset: f.Offset} }

// ParseFrame decodes a wire protocol frame, failing the test if it is not
// one.
func ParseFrame(t testing.TB, data string) Frame {
	t.Helper()
	var f Frame
	require.NoError(t, json.Unmarshal([]byte(data), &f), data)
	require.NotEmpty(t, f.Tornago, data)
	return f
}

// ReadFrame reads one wire protocol frame.
func (c *Client) ReadFrame(t testing.TB) Frame {
	t.Helper()
	return ParseFrame(t, c.ReadText(t))
}

// SinceQuery is the query that asks to recover each room from its
// position ("recover=1&tornago_since=..."), as reconnect.js sends it.
func SinceQuery(since map[string]hub.Position) string {
	w := map[string]map[string]any{}
	for room, p := range since {
		w[room] = map[string]any{"epoch": p.Epoch, "offset": p.Offset}
	}
	b, _ := json.Marshal(w)
	return "recover=1&" + hub.SinceParam + "=" + url.QueryEscape(string(b))
}
