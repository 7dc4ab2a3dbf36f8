package redisbroker_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/hub/internal/hubtest"
	"github.com/tornago/tornago/hub/redisbroker"
	"github.com/tornago/tornago/internal/testenv"
)

// Two Applications, each with its hub, share one Redis: what either
// publishes reaches the members of both, in each publisher's order, once.
func TestTwoNodesOneRedis(t *testing.T) {
	t.Parallel()
	addr, prefix := redisAddr(t), uniquePrefix()
	n1, n2 := newNode(t, addr, prefix), newNode(t, addr, prefix)
	waitUp(t, n1, n2)
	s1 := hubtest.Start(t, n1.hub, tornago.Settings{})
	s2 := hubtest.Start(t, n2.hub, tornago.Settings{})
	var members []*hubtest.Client
	for range 3 {
		members = append(members, s1.Connect(t, "room=r"), s2.Connect(t, "room=r"))
	}
	waitSubscribers(t, addr, channel(prefix, "r"), 2)

	const n = 200
	ctx := context.Background()
	var wg sync.WaitGroup
	for _, p := range []struct {
		hub    *hub.Hub
		prefix string
	}{{n1.hub, "a"}, {n2.hub, "b"}} {
		wg.Go(func() {
			for _, m := range hubtest.Seq(p.prefix, n) {
				assert.NoError(t, p.hub.Publish(ctx, "r", []byte(m), false))
			}
		})
	}
	wg.Wait()
	for i, c := range members {
		var got [2][]string
		for range 2 * n {
			m := c.ReadText(t)
			k := 0
			if strings.HasPrefix(m, "b") {
				k = 1
			}
			got[k] = append(got[k], m)
		}
		assert.Equal(t, hubtest.Seq("a", n), got[0], "member %d: node 1's messages", i)
		assert.Equal(t, hubtest.Seq("b", n), got[1], "member %d: node 2's messages", i)
	}
	// Nothing more came (no copies): the next message is the next published.
	require.NoError(t, n2.hub.Publish(ctx, "r", []byte("end"), false))
	for _, c := range members {
		c.Expect(t, "end")
	}
}

// A user's tabs on two nodes all get SendToUser, from either node; a
// node whose members all left unsubscribes.
func TestSendToUserAcrossNodes(t *testing.T) {
	t.Parallel()
	addr, prefix := redisAddr(t), uniquePrefix()
	n1, n2 := newNode(t, addr, prefix), newNode(t, addr, prefix)
	waitUp(t, n1, n2)
	s1 := hubtest.Start(t, n1.hub, tornago.Settings{})
	s2 := hubtest.Start(t, n2.hub, tornago.Settings{})
	tab1, tab2 := s1.Connect(t, "user=ann"), s2.Connect(t, "user=ann")
	bob := s2.Connect(t, "user=bob")
	userChannel := prefix + "user:ann"
	waitSubscribers(t, addr, userChannel, 2)

	ctx := context.Background()
	require.NoError(t, n2.hub.SendToUser(ctx, "ann", []byte("from 2"), false))
	require.NoError(t, n1.hub.SendToUser(ctx, "ann", []byte("from 1"), false))
	require.NoError(t, n1.hub.SendToUser(ctx, "bob", []byte("hi bob"), false))
	// Two publishers: each tab gets both, in an order that depends on
	// which node the tab is on.
	for _, tab := range []*hubtest.Client{tab1, tab2} {
		assert.ElementsMatch(t, []string{"from 1", "from 2"}, []string{tab.ReadText(t), tab.ReadText(t)})
	}
	bob.Expect(t, "hi bob")

	tab2.CloseNow()
	waitSubscribers(t, addr, userChannel, 1)
}

// Without Redis the broker reports it: publishes fail at once and reach
// only local members, Health is down, and Close stops the retries.
func TestNoRedis(t *testing.T) {
	t.Parallel()
	addr := "127.0.0.1:1" // nothing listens on port 1
	n := newNode(t, addr, uniquePrefix(), redisbroker.WithBackoff(time.Millisecond, 10*time.Millisecond))
	m := &hubtest.Member{Keep: true}
	n.hub.Join("r", m)
	require.Eventually(t, func() bool {
		return n.hub.Health().Err != nil && strings.Contains(n.logs.String(), "cannot reach Redis")
	},
		5*time.Second, 5*time.Millisecond)
	err := n.hub.Publish(context.Background(), "r", []byte("hi"), false)
	require.ErrorIs(t, err, hub.ErrLocalOnly)
	require.ErrorIs(t, err, redisbroker.ErrUnavailable)
	assert.Equal(t, []string{"hi"}, m.Received())
	st := n.hub.Health()
	assert.False(t, st.Up)
	assert.Equal(t, uint64(1), st.FailedPublishes)
	assert.Equal(t, 1, strings.Count(n.logs.String(), "cannot reach Redis"), "logged once, not per attempt")
}

func TestStartTwicePanics(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	b := redisbroker.New(c)
	h := hub.New(hub.WithBroker(b))
	defer h.Close()
	assert.Panics(t, func() { hub.New(hub.WithBroker(b)) })
}

// Redis is killed (SIGKILL) and started again on the same port while two
// nodes run: local delivery goes on, publishes fail while it is down,
// Health and the log tell, and delivery between the nodes resumes by
// itself once Redis is back.
func TestRedisKilledAndRestarted(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	prefix := uniquePrefix()
	opts := []redisbroker.Option{
		redisbroker.WithBackoff(20*time.Millisecond, 200*time.Millisecond),
		redisbroker.WithPingInterval(time.Second),
	}
	n1, n2 := newNode(t, r.Addr, prefix, opts...), newNode(t, r.Addr, prefix, opts...)
	waitUp(t, n1, n2)
	s1 := hubtest.Start(t, n1.hub, tornago.Settings{})
	s2 := hubtest.Start(t, n2.hub, tornago.Settings{})
	c1, c2 := s1.Connect(t, "room=r"), s2.Connect(t, "room=r")
	waitSubscribers(t, r.Addr, channel(prefix, "r"), 2)
	ctx := context.Background()
	require.NoError(t, n1.hub.Publish(ctx, "r", []byte("before"), false))
	c1.Expect(t, "before")
	c2.Expect(t, "before")

	r.Kill()
	for _, n := range []*node{n1, n2} {
		require.Eventually(t, func() bool { return !n.hub.Health().Up }, 5*time.Second, 5*time.Millisecond)
	}
	err := n1.hub.Publish(ctx, "r", []byte("during"), false)
	require.ErrorIs(t, err, hub.ErrLocalOnly)
	require.ErrorIs(t, err, redisbroker.ErrUnavailable)
	c1.Expect(t, "during") // local delivery goes on
	st := n1.hub.Health()
	assert.False(t, st.Up)
	assert.Error(t, st.Err)
	assert.Equal(t, 1, st.Outages)
	assert.Equal(t, uint64(1), st.FailedPublishes)
	assert.Contains(t, n1.logs.String(), "Redis connection lost")

	// Members joining while Redis is down are subscribed once it is back.
	c3 := s2.Connect(t, "room=late")
	time.Sleep(300 * time.Millisecond) // a few failed reconnection attempts
	r.Start(t)
	waitUp(t, n1, n2)
	waitSubscribers(t, r.Addr, channel(prefix, "r"), 2)
	waitSubscribers(t, r.Addr, channel(prefix, "late"), 1)
	require.NoError(t, n1.hub.Publish(ctx, "r", []byte("after"), false))
	require.NoError(t, n1.hub.Publish(ctx, "late", []byte("late"), false))
	c1.Expect(t, "after")
	c2.Expect(t, "after") // "during" never reached node 2, and n1 was told
	c3.Expect(t, "late")
	for _, n := range []*node{n1, n2} {
		st := n.hub.Health()
		assert.True(t, st.Up)
		assert.NoError(t, st.Err)
		assert.Equal(t, 1, st.Outages)
		assert.Contains(t, n.logs.String(), "Redis connection restored")
	}
	t.Logf("node 1 log:\n%s", n1.logs)
}

// A publish that races a Redis loss returns an error, never silence: a
// publisher that keeps publishing while Redis dies sees every message
// either delivered to the other node or reported as failed.
func TestPublishesDuringLossAreAccounted(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	prefix := uniquePrefix()
	n1, n2 := newNode(t, r.Addr, prefix), newNode(t, r.Addr, prefix)
	waitUp(t, n1, n2)
	remote := &hubtest.Member{Keep: true}
	n2.hub.Join("r", remote)
	waitSubscribers(t, r.Addr, channel(prefix, "r"), 1)

	ctx := context.Background()
	var sent []string
	failed := 0
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; failed == 0 && time.Now().Before(deadline); i++ {
		if i == 200 {
			r.Kill()
		}
		m := fmt.Sprint(i)
		if n1.hub.Publish(ctx, "r", []byte(m), false) != nil {
			failed++
			continue
		}
		sent = append(sent, m)
	}
	require.Equal(t, 1, failed, "a publish failed once Redis was gone")
	require.Eventually(t, func() bool { return len(remote.Received()) >= len(sent) || !n2.hub.Health().Up },
		5*time.Second, 5*time.Millisecond)
	got := remote.Received()
	// Every message Publish reported as sent arrived, unless node 2's own
	// subscription broke before Redis could pass it on: then it is a
	// prefix, and node 2's Health shows the outage.
	require.LessOrEqual(t, len(got), len(sent))
	assert.Equal(t, sent[:len(got)], got)
	t.Logf("%d published without error before the loss was noticed, %d received by node 2, %d failed",
		len(sent), len(got), n1.hub.Health().FailedPublishes)
}
