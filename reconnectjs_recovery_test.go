package tornago_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/hub"
)

// jsNewsSocket joins the room "news" of its hub through the wire
// protocol's helper, recovering what the page missed.
type jsNewsSocket struct {
	tornago.WebSocketHandler
	rooms *hub.Hub
}

func (s *jsNewsSocket) Open(args ...string) error {
	ctx, cancel := context.WithTimeout(s.Request().Context(), 5*time.Second)
	defer cancel()
	var o hub.JoinOptions
	if user := s.Request().URL.Query().Get("user"); user != "" {
		o = hub.JoinOptions{Presence: &hub.ClientInfo{ClientID: user, UserID: user}, WatchPresence: true}
	}
	_, err := s.rooms.JoinRooms(ctx, s.Request().URL.Query(), s, o, "news")
	return err
}

func (s *jsNewsSocket) OnClose() { s.rooms.LeaveAll(s) }

func newsRoute(rooms *hub.Hub) tornago.Route {
	return tornago.Route{Pattern: `/news`, Handler: func() tornago.Handler { return &jsNewsSocket{rooms: rooms} }}
}

func newsHub() *hub.Hub {
	return hub.New(hub.WithHistory(func(string) hub.HistoryPolicy { return hub.HistoryPolicy{Size: 100} }))
}

// TestReconnectJSRecovery: the script keeps the position of the last
// publication it passed on and sends it when it reconnects, so that what
// was published while it was away arrives once each, in order; when the
// server cannot recover (its history is another epoch: a new process with
// the memory broker), the page gets "notrecovered".
func TestReconnectJSRecovery(t *testing.T) {
	t.Parallel()
	forEachWebSocket(t, testReconnectJSRecovery)
}

func testReconnectJSRecovery(t *testing.T, node string, impl wsImpl) {
	ctx := context.Background()
	rooms := newsHub()
	addr, stop := jsServer(t, "", newsRoute(rooms))
	c := startJSClient(t, node, impl, "ws://"+addr+"/news", map[string]any{"minDelay": 40, "maxDelay": 320})
	require.Equal(t, "open", c.next(nil).Event)
	joined := c.next(nil)
	require.Equal(t, "joined", joined.Event)
	assert.Nil(t, joined.Recovered, "a first join asks for no recovery")
	require.NotNil(t, joined.Position)
	epoch := joined.Position.Epoch
	require.NotEmpty(t, epoch)

	require.NoError(t, rooms.Publish(ctx, "news", []byte("a"), false))
	assert.Equal(t, jsEvent{Event: "message", Data: "a", Room: "news", ID: epoch + ":1"}, c.next(nil))

	stop()
	require.Equal(t, "close", c.next(nil).Event)
	for _, m := range []string{"b", "c", "d"} {
		require.NoError(t, rooms.Publish(ctx, "news", []byte(m), false))
	}
	_, stop2 := jsServer(t, addr, newsRoute(rooms))
	var events []jsEvent
	for len(events) < 6 {
		if e := c.next(nil); e.Event != "close" { // refused attempts
			events = append(events, e)
		}
	}
	yes := true
	assert.Equal(t, []jsEvent{
		{Event: "open"},
		{Event: "reconnect"},
		{Event: "message", Data: "b", Room: "news", ID: epoch + ":2"},
		{Event: "message", Data: "c", Room: "news", ID: epoch + ":3"},
		{Event: "message", Data: "d", Room: "news", ID: epoch + ":4"},
		{Event: "joined", Room: "news", Recovered: &yes, Position: &jsPosition{epoch, 4}},
	}, events)

	// A new process: its history is another epoch.
	stop2()
	require.Equal(t, "close", c.next(nil).Event)
	fresh := newsHub()
	_, stop3 := jsServer(t, addr, newsRoute(fresh))
	defer stop3()
	events = events[:0]
	for len(events) < 4 {
		if e := c.next(nil); e.Event != "close" {
			events = append(events, e)
		}
	}
	assert.Equal(t, "joined", events[2].Event)
	require.NotNil(t, events[2].Recovered)
	assert.False(t, *events[2].Recovered)
	assert.NotEqual(t, epoch, events[2].Position.Epoch)
	assert.Equal(t, "notrecovered", events[3].Event)
	assert.Contains(t, events[3].Reason, fmt.Sprintf("epoch %q", epoch))
	require.NoError(t, fresh.Publish(ctx, "news", []byte("e"), false))
	assert.Equal(t, jsEvent{Event: "message", Data: "e", Room: "news", ID: events[2].Position.Epoch + ":1"}, c.next(nil))
}

// TestReconnectJSPresenceAndBinary: the script reports the joins and
// leaves of the other members ("presence") and passes a binary
// publication on as its bytes.
func TestReconnectJSPresenceAndBinary(t *testing.T) {
	t.Parallel()
	forEachWebSocket(t, testReconnectJSPresenceAndBinary)
}

func testReconnectJSPresenceAndBinary(t *testing.T, node string, impl wsImpl) {
	rooms := newsHub()
	defer rooms.Close()
	addr, _ := jsServer(t, "", newsRoute(rooms))
	c := startJSClient(t, node, impl, "ws://"+addr+"/news?user=ann", map[string]any{"binaryType": "arraybuffer"})
	require.Equal(t, "open", c.next(nil).Event)
	require.Equal(t, "joined", c.next(nil).Event)

	bob := startJSClient(t, node, impl, "ws://"+addr+"/news?user=bob", nil)
	require.Equal(t, "open", bob.next(nil).Event)
	e := c.next(nil)
	assert.Equal(t, "presence", e.Event)
	assert.Equal(t, "join", e.Kind)
	assert.Equal(t, "news", e.Room)
	require.NotNil(t, e.Client)
	assert.Equal(t, "bob", e.Client.UserID)

	p, err := rooms.PublishWithPosition(context.Background(), "news", []byte{1, 2, 255}, true)
	require.NoError(t, err)
	assert.Equal(t, jsEvent{Event: "message", Data: "bytes:1,2,255", Room: "news", ID: p.String()}, c.next(nil))

	_, err = io.WriteString(bob.stdin, "close\n")
	require.NoError(t, err)
	e = c.next(nil)
	assert.Equal(t, "presence", e.Event)
	assert.Equal(t, "leave", e.Kind)
	assert.Equal(t, "bob", e.Client.ClientID)
}
