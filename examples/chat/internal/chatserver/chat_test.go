package chatserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/tornagotest"
	"github.com/tornago/tornago/websocket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// node is one Application of the chat over a hub, served over TCP until
// the test ends, and a browser of it.
type node struct {
	browser *tornagotest.Client
}

func startNode(t *testing.T, h *hub.Hub) *node {
	t.Helper()
	t.Cleanup(func() { require.NoError(t, h.Close()) }) // after the server's shutdown
	logger := slog.New(slog.DiscardHandler)
	app, err := NewApp(tornago.Settings{
		TemplatePath: filepath.Join(DefaultDir(), "templates"),
		StaticPath:   filepath.Join(DefaultDir(), "static"),
		Logger:       logger,
	}, NewHubRoom(h, logger))
	require.NoError(t, err)
	return &node{browser: tornagotest.NewServer(t, app).Client()}
}

// dial opens the chat's WebSocket as the page does.
func (n *node) dial(t *testing.T) *websocket.Conn {
	t.Helper()
	return n.browser.MustDial("/chatsocket", nil).Conn
}

// cached returns the bodies of the messages the page shows.
func (n *node) cached(t *testing.T) []string {
	t.Helper()
	page := n.browser.Get("/")
	require.Equal(t, http.StatusOK, page.StatusCode)
	var bodies []string
	for _, m := range regexp.MustCompile(`<div class="message" id="m[^"]+">([^<]*)</div>`).FindAllStringSubmatch(page.Body, -1) {
		bodies = append(bodies, m[1])
	}
	return bodies
}

func post(t *testing.T, c *websocket.Conn, body string) {
	t.Helper()
	require.NoError(t, c.WriteMessage(context.Background(), websocket.TextMessage, fmt.Appendf(nil, `{"body": %q}`, body)))
}

func next(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	m := regexp.MustCompile(`"body":"([^"]*)"`).FindSubmatch(data)
	require.NotNil(t, m, "%s", data)
	return string(m[1])
}

// TestHubRoomAcrossNodes runs two Applications over hubs joined by memory
// brokers, which deliver synchronously inside Publish: the cache, a member
// of the room, is written while the publish is under way, so post must
// not hold the cache's lock (it would deadlock) nor write the cache itself
// (each message would be cached twice on the sender's node).
func TestHubRoomAcrossNodes(t *testing.T) {
	t.Parallel()
	brokers := hub.NewMemoryBrokers(2)
	a := startNode(t, hub.New(hub.WithBroker(brokers[0])))
	b := startNode(t, hub.New(hub.WithBroker(brokers[1])))
	alice, bob := a.dial(t), b.dial(t)

	var want []string
	for i := range 3 {
		for _, from := range []*websocket.Conn{alice, bob} {
			body := fmt.Sprintf("m%d from %p", i, from)
			post(t, from, body)
			assert.Equal(t, body, next(t, alice))
			assert.Equal(t, body, next(t, bob))
			want = append(want, body)
		}
	}
	assert.Equal(t, want, a.cached(t))
	assert.Equal(t, want, b.cached(t))
}

// TestCacheMemberIgnoresOthers: a message that is not a chat message, such
// as one published to the room by other code, is not cached.
func TestCacheMemberIgnoresOthers(t *testing.T) {
	t.Parallel()
	h := hub.New()
	defer h.Close()
	c := newChat(NewHubRoom(h, slog.New(slog.DiscardHandler)))
	require.NoError(t, h.Publish(context.Background(), roomName, []byte("not json"), false))
	require.NoError(t, c.post(message{ID: "1", Body: "hello"}))
	assert.Equal(t, []message{{ID: "1", Body: "hello"}}, c.messages())

	for i := range CacheSize + 1 {
		require.NoError(t, c.post(message{ID: fmt.Sprint(i)}))
	}
	got := c.messages()
	assert.Len(t, got, CacheSize)
	assert.Equal(t, "1", got[0].ID, "the oldest dropped")
}

// TestBurstOfLargeMessagesKeepsMembers posts ten messages of 65,000 "<"
// (within MaxMessageSize) to a room of 50 members reading as fast as they
// can: every member gets all ten and none is closed. The HTML is escaped
// once (&lt;), and the JSON around it does not escape it again, so each
// message goes out at about five bytes per character typed, not fifteen.
func TestBurstOfLargeMessagesKeepsMembers(t *testing.T) {
	const members, burst = 50, 10
	body := strings.Repeat("<", 65_000)
	n := startNode(t, hub.New())
	conns := make([]*websocket.Conn, members)
	for i := range conns {
		conns[i] = n.dial(t)
	}
	poster := n.dial(t)
	errs := make(chan error, members)
	sizes := make(chan int, members*burst)
	for _, c := range conns {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			for range burst {
				_, data, err := c.ReadMessage(ctx)
				if err != nil {
					errs <- err
					return
				}
				sizes <- len(data)
			}
			errs <- nil
		}()
	}
	for range burst {
		post(t, poster, body)
	}
	for range members {
		require.NoError(t, <-errs, "a member was closed or starved")
	}
	close(sizes)
	for size := range sizes {
		assert.Less(t, size, 5*len(body)+1000, "bytes sent for %d characters", len(body))
	}
}
