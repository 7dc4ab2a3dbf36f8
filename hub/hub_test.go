package hub_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/hub/internal/hubtest"
	"github.com/tornago/tornago/websocket"
)

func TestJoinLeavePresence(t *testing.T) {
	t.Parallel()
	h := hub.New()
	srv := hubtest.Start(t, h, tornago.Settings{})
	a1 := srv.Connect(t, "room=a")
	a2 := srv.Connect(t, "room=a&room=b")
	b1 := srv.Connect(t, "room=b&user=ann")
	assert.Equal(t, 2, h.Presence("a"))
	assert.Equal(t, 2, h.Presence("b"))
	assert.Equal(t, 0, h.Presence("c"))
	assert.Equal(t, 1, h.UserConnections("ann"))
	assert.Equal(t, []string{"a", "b"}, h.Rooms(a2.Sock))

	h.Join("a", a2.Sock) // again: no change
	assert.Equal(t, 2, h.Presence("a"))

	h.Leave("a", a2.Sock)
	assert.Equal(t, 1, h.Presence("a"))
	assert.Equal(t, []string{"b"}, h.Rooms(a2.Sock))
	ctx := context.Background()
	require.NoError(t, h.Publish(ctx, "a", []byte("to a"), false))
	require.NoError(t, h.Publish(ctx, "b", []byte("to b"), false))
	a1.Expect(t, "to a")
	a2.Expect(t, "to b") // not "to a": it left

	// A closed connection leaves its rooms through OnClose.
	require.NoError(t, b1.Close(websocket.StatusNormalClosure, ""))
	require.Eventually(t, func() bool { return h.Presence("b") == 1 && h.UserConnections("ann") == 0 },
		5*time.Second, 5*time.Millisecond)
	assert.Empty(t, h.Rooms(b1.Sock))
	a1.CloseNow()
	require.Eventually(t, func() bool { return h.Presence("a") == 0 }, 5*time.Second, 5*time.Millisecond)
}

// TestRefusedOpenLeavesNoGhostMember refuses 300 handshakes whose Open
// joined a room first: each ends like any connection (OnClose leaves the
// room), so presence and the room's members go back to none.
func TestRefusedOpenLeavesNoGhostMember(t *testing.T) {
	t.Parallel()
	h := hub.New()
	srv := hubtest.Start(t, h, tornago.Settings{})
	for i := range 300 {
		_, resp, err := websocket.Dial(context.Background(), srv.URL+"?room=r&user=ann&refuse=late", nil)
		require.Error(t, err, "handshake %d", i)
		require.NotNil(t, resp)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	}
	require.Eventually(t, func() bool { return srv.Closed.Load() == 300 }, 10*time.Second, 5*time.Millisecond,
		"OnClose ran %d times for 300 refused Opens", srv.Closed.Load())
	assert.Zero(t, h.Presence("r"), "refused connections left their room")
	assert.Zero(t, h.UserConnections("ann"))

	live := srv.Connect(t, "room=r")
	require.NoError(t, h.Publish(context.Background(), "r", []byte("only you"), false))
	live.Expect(t, "only you")
	assert.Equal(t, 1, h.Presence("r"))
}

func TestPublishReachesEveryMemberOnceInOrder(t *testing.T) {
	t.Parallel()
	h := hub.New()
	srv := hubtest.Start(t, h, tornago.Settings{})
	var members []*hubtest.Client
	for range 5 {
		members = append(members, srv.Connect(t, "room=r"))
	}
	other := srv.Connect(t, "room=other")
	ctx := context.Background()
	const n = 300
	for _, m := range hubtest.Seq("m", n) {
		require.NoError(t, h.Publish(ctx, "r", []byte(m), false))
	}
	require.NoError(t, h.Publish(ctx, "r", []byte("end"), false))
	require.NoError(t, h.Publish(ctx, "other", []byte("other"), false))
	want := append(hubtest.Seq("m", n), "end")
	for _, c := range members {
		c.Expect(t, want...) // in order; "end" right after the last: no duplicates
	}
	other.Expect(t, "other")
}

func TestPublishBinaryAndInvalidText(t *testing.T) {
	t.Parallel()
	h := hub.New()
	srv := hubtest.Start(t, h, tornago.Settings{})
	c := srv.Connect(t, "room=r")
	ctx := context.Background()
	err := h.Publish(ctx, "r", []byte{0xff, 0xfe}, false)
	require.ErrorIs(t, err, websocket.ErrInvalidUTF8)
	require.NoError(t, h.Publish(ctx, "r", []byte{0xff, 0xfe}, true))
	typ, data, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	assert.Equal(t, websocket.BinaryMessage, typ)
	assert.Equal(t, []byte{0xff, 0xfe}, data)
}

func TestSendToUserReachesEveryTab(t *testing.T) {
	t.Parallel()
	h := hub.New()
	srv := hubtest.Start(t, h, tornago.Settings{})
	tabs := []*hubtest.Client{
		srv.Connect(t, "user=ann"),
		srv.Connect(t, "user=ann&room=x"),
		srv.Connect(t, "user=ann&room=y"),
	}
	bob := srv.Connect(t, "user=bob&room=x")
	ctx := context.Background()
	require.NoError(t, h.SendToUser(ctx, "ann", []byte("hi ann"), false))
	require.NoError(t, h.SendToUser(ctx, "bob", []byte("hi bob"), false))
	for _, c := range tabs {
		c.Expect(t, "hi ann")
	}
	bob.Expect(t, "hi bob")
	assert.Equal(t, 3, h.UserConnections("ann"))

	require.NoError(t, h.SendTo(tabs[1].Sock, []byte("just you"), false))
	require.NoError(t, h.SendToUser(ctx, "ann", []byte("all again"), false))
	tabs[0].Expect(t, "all again")
	tabs[1].Expect(t, "just you", "all again")
	tabs[2].Expect(t, "all again")
}

// A member that does not read overflows its own send queue and is closed
// and removed, while the others get every message and Publish never waits.
func TestSlowMemberDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	h := hub.New()
	// The fast members get room for the whole burst (the race detector
	// slows their reading down); the slow one gets 64 KiB.
	srv := hubtest.Start(t, h, tornago.Settings{WebSocketSendQueueSize: 64 << 20})
	const queue = 64 << 10
	slow := srv.Connect(t, fmt.Sprintf("room=r&queue=%d", queue))
	var fast []*hubtest.Client
	for range 3 {
		fast = append(fast, srv.Connect(t, "room=r"))
	}
	msg := strings.Repeat("x", 16<<10)
	const n = 600 // ~10 MB: more than the kernel buffers hold for the slow reader
	ctx := context.Background()

	var wg sync.WaitGroup
	errs := make(chan error, len(fast))
	for _, c := range fast {
		wg.Go(func() {
			for i := range n {
				_, data, err := c.ReadMessage(ctx)
				if err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprintf("%d:%s", i, msg); string(data) != want {
					errs <- fmt.Errorf("message %d: got %.20q", i, data)
					return
				}
			}
		})
	}
	var slowest time.Duration
	for i := range n {
		start := time.Now()
		require.NoError(t, h.Publish(ctx, "r", fmt.Appendf(nil, "%d:%s", i, msg), false))
		slowest = max(slowest, time.Since(start))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	t.Logf("slowest Publish of %d (16 KiB each, 4 members): %v", n, slowest)
	// A Publish that waited for the slow member, which never reads, would
	// wait until its send timeout (30 s) closed it; a loaded machine
	// makes a burst's slowest Publish take a second at most.
	assert.Less(t, slowest, 10*time.Second, "Publish waited for a peer")
	assert.Equal(t, 3, h.Presence("r"), "the slow member was removed")
	assert.NotContains(t, h.Rooms(slow.Sock), "r")
	require.Eventually(t, func() bool { return srv.Closed.Load() == 1 }, 5*time.Second, 5*time.Millisecond,
		"the slow member was closed")
}

// 1,000 connections of one room each receive a burst of 1,000 messages,
// all of them, in order.
func TestBurst1000Members1000Messages(t *testing.T) {
	t.Parallel()
	const members, messages = 1000, 1000
	h := hub.New()
	srv := hubtest.Start(t, h, tornago.Settings{})
	clients := make([]*hubtest.Client, members)
	for i := range clients {
		clients[i] = srv.Connect(t, "room=burst")
	}
	require.Equal(t, members, h.Presence("burst"))
	ctx := context.Background()

	errs := make(chan error, members)
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			for i := range messages {
				_, data, err := c.ReadMessage(ctx)
				if err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprintf("burst message %04d", i); string(data) != want {
					errs <- fmt.Errorf("got %q, want %q", data, want)
					return
				}
			}
		})
	}
	start := time.Now()
	for i := range messages {
		require.NoError(t, h.Publish(ctx, "burst", fmt.Appendf(nil, "burst message %04d", i), false))
	}
	published := time.Since(start)
	wg.Wait()
	total := time.Since(start)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	t.Logf("%d messages to %d members: published in %v, all %d frames received in %v (%.0f frames/s)",
		messages, members, published, members*messages, total, float64(members*messages)/total.Seconds())
	assert.Equal(t, members, h.Presence("burst"), "nobody was dropped")
}

// Two hubs joined by memory brokers act as two nodes: a publish on either
// reaches the members of both once, in order, and a closed member is
// removed when a write finds it closed.
func TestTwoHubsOverMemoryBrokers(t *testing.T) {
	t.Parallel()
	bs := hub.NewMemoryBrokers(2)
	h1, h2 := hub.New(hub.WithBroker(bs[0])), hub.New(hub.WithBroker(bs[1]))
	on1, on2 := &hubtest.Member{Keep: true}, &hubtest.Member{Keep: true}
	h1.Join("r", on1)
	h2.Join("r", on2)
	ctx := context.Background()
	for i := range 50 {
		require.NoError(t, h1.Publish(ctx, "r", fmt.Appendf(nil, "a%d", i), false))
		require.NoError(t, h2.Publish(ctx, "r", fmt.Appendf(nil, "b%d", i), false))
	}
	var want []string
	for i := range 50 {
		want = append(want, fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i))
	}
	assert.Equal(t, want, on1.Received())
	assert.Equal(t, want, on2.Received())

	// Users cross nodes too.
	h2.JoinUser("ann", on2)
	require.NoError(t, h1.SendToUser(ctx, "ann", []byte("hi"), false))
	assert.Equal(t, "hi", on2.Received()[len(want)])

	// After leaving, node 2 gets nothing more (and has unsubscribed).
	h2.LeaveAll(on2)
	require.NoError(t, h1.Publish(ctx, "r", []byte("late"), false))
	assert.Len(t, on2.Received(), len(want)+1)

	// A member found closed is removed from all its rooms.
	on1.Closed.Store(true)
	h1.JoinUser("ann", on1)
	require.NoError(t, h2.Publish(ctx, "r", []byte("to a closed member"), false))
	assert.Equal(t, 0, h1.Presence("r"))
	assert.Equal(t, 0, h1.UserConnections("ann"))
	assert.True(t, h1.Health().Up)
	require.NoError(t, h1.Close())
	require.NoError(t, h2.Close())
}

// brokenBroker fails every publish, as a broker whose backplane is gone.
type brokenBroker struct{ *hub.MemoryBroker }

var errGone = errors.New("backplane gone")

func (brokenBroker) Publish(context.Context, string, hub.Message) error { return errGone }
func (brokenBroker) Health() hub.Health                                 { return hub.Health{Err: errGone} }

func TestPublishWithBrokerDownDeliversLocally(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.WithBroker(brokenBroker{hub.NewMemoryBroker()}))
	m := &hubtest.Member{Keep: true}
	h.Join("r", m)
	err := h.Publish(context.Background(), "r", []byte("hi"), false)
	require.ErrorIs(t, err, hub.ErrLocalOnly)
	require.ErrorIs(t, err, errGone)
	assert.Equal(t, []string{"hi"}, m.Received())
	st := h.Health()
	assert.False(t, st.Up)
	assert.Equal(t, uint64(1), st.FailedPublishes)
}

// Concurrent publishers to one room: every member on the node sees the
// same order, and each publisher's messages in its order.
func TestConcurrentPublishersOneOrderPerNode(t *testing.T) {
	t.Parallel()
	h := hub.New()
	ms := make([]*hubtest.Member, 20)
	for i := range ms {
		ms[i] = &hubtest.Member{Keep: true}
		h.Join("r", ms[i])
	}
	const publishers, n = 4, 500
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for _, m := range hubtest.Seq(fmt.Sprintf("p%d-", p), n) {
				assert.NoError(t, h.Publish(context.Background(), "r", []byte(m), false))
			}
		})
	}
	wg.Wait()
	first := ms[0].Received()
	require.Len(t, first, publishers*n)
	for _, m := range ms[1:] {
		require.Equal(t, first, m.Received())
	}
	for p := range publishers {
		prefix := fmt.Sprintf("p%d-", p)
		var mine []string
		for _, m := range first {
			if strings.HasPrefix(m, prefix) {
				mine = append(mine, m)
			}
		}
		assert.Equal(t, hubtest.Seq(prefix, n), mine)
	}
}

// Joins, leaves and publishes from many goroutines at once (run with -race).
func TestConcurrentJoinLeavePublish(t *testing.T) {
	t.Parallel()
	h := hub.New()
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			ms := make([]*hubtest.Member, 50)
			for i := range ms {
				ms[i] = &hubtest.Member{}
				h.Join(fmt.Sprintf("room%d", i%5), ms[i])
				h.JoinUser(fmt.Sprintf("user%d", g), ms[i])
			}
			for i := range 100 {
				_ = h.Publish(ctx, fmt.Sprintf("room%d", i%5), []byte("x"), false)
				_ = h.SendToUser(ctx, fmt.Sprintf("user%d", (g+1)%8), []byte("y"), false)
			}
			for i, m := range ms {
				if i%2 == 0 {
					h.Leave(fmt.Sprintf("room%d", i%5), m)
				}
				h.LeaveAll(m)
			}
		})
	}
	wg.Wait()
	for i := range 5 {
		assert.Equal(t, 0, h.Presence(fmt.Sprintf("room%d", i)))
	}
}
