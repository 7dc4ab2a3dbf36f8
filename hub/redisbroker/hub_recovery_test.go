package redisbroker_test

import (
	"context"
	"fmt"
	"log/slog"
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
)

// The hub-level tests of issue 16 on Redis: three hubs, each with its own
// Redis client and broker as three processes would have, serving real
// WebSocket clients where the wire protocol is what is checked.

// historyHubs starts n hubs on Redis (newClient's) sharing a fresh prefix,
// with history for every room (Size 10,000).
func historyHubs(t *testing.T, n int, newClient func() redis.UniversalClient, opts ...hub.Option) []*hub.Hub {
	t.Helper()
	prefix := uniquePrefix()
	hubs := make([]*hub.Hub, n)
	for i := range hubs {
		c := newClient()
		b := redisbroker.New(c, redisbroker.WithPrefix(prefix), redisbroker.WithLogger(slog.New(slog.DiscardHandler)))
		hubs[i] = hub.New(append([]hub.Option{hub.WithBroker(b),
			hub.WithHistory(func(string) hub.HistoryPolicy { return hub.HistoryPolicy{Size: 10000, TTL: time.Minute} })},
			opts...)...)
		t.Cleanup(func() {
			require.NoError(t, hubs[i].Close())
			require.NoError(t, c.Close())
		})
	}
	for _, h := range hubs {
		require.Eventually(t, func() bool { return h.Health().Up }, 20*time.Second, 5*time.Millisecond)
	}
	return hubs
}

// readPubs reads len(want) publication frames of room and checks their
// data and that their offsets follow one another; it returns the last
// one's position.
func readPubs(t *testing.T, c *hubtest.Client, room string, want ...string) hub.Position {
	t.Helper()
	var last hub.Position
	for i, w := range want {
		f := c.ReadFrame(t)
		require.Equal(t, "pub", f.Tornago, "frame %d: %+v", i, f)
		require.Equal(t, room, f.Room)
		require.Equal(t, w, f.Data, "frame %d", i)
		if !last.IsZero() {
			require.Equal(t, last.Offset+1, f.Offset, "frame %d: offsets follow one another", i)
		}
		last = f.Position()
	}
	return last
}

func readJoined(t *testing.T, c *hubtest.Client, room string) hubtest.Frame {
	t.Helper()
	f := c.ReadFrame(t)
	require.Equal(t, "joined", f.Tornago, "%+v", f)
	require.Equal(t, room, f.Room)
	return f
}

// A browser's connection on process 0 drops; 20 messages are published on
// process 1; it reconnects to process 2 with its position and gets exactly
// those 20, in order, then "joined" (recovered), then live ones.
func testHubRecoveryAcrossProcesses(t *testing.T, newClient func() redis.UniversalClient) {
	hubs := historyHubs(t, 3, newClient)
	srvs := make([]*hubtest.Server, 3)
	for i, h := range hubs {
		srvs[i] = hubtest.Start(t, h, tornago.Settings{})
	}
	ctx := context.Background()
	publish := func(h *hub.Hub, msgs ...string) {
		for _, m := range msgs {
			require.NoError(t, h.Publish(ctx, "news", []byte(m), false))
		}
	}
	c := srvs[0].Connect(t, "recover=1&room=news")
	readJoined(t, c, "news")
	publish(hubs[1], "a", "b")
	pos := readPubs(t, c, "news", "a", "b")
	c.CloseNow()

	publish(hubs[1], hubtest.Seq("m", 20)...)
	c = srvs[2].Connect(t, "room=news&"+hubtest.SinceQuery(map[string]hub.Position{"news": pos}))
	readPubs(t, c, "news", hubtest.Seq("m", 20)...)
	f := readJoined(t, c, "news")
	require.NotNil(t, f.Recovered)
	require.True(t, *f.Recovered, f.Reason)
	publish(hubs[0], "live")
	readPubs(t, c, "news", "live")

	// A position of another epoch, or trimmed away, is "not recovered".
	c.CloseNow()
	c = srvs[1].Connect(t, "room=news&"+hubtest.SinceQuery(map[string]hub.Position{"news": {Epoch: "gone", Offset: 3}}))
	f = readJoined(t, c, "news")
	require.NotNil(t, f.Recovered)
	assert.False(t, *f.Recovered)
	assert.NotEmpty(t, f.Reason)
}

func TestHubRecoveryAcrossProcesses(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	testHubRecoveryAcrossProcesses(t, func() redis.UniversalClient { return singleClient(addr) })
}

func TestClusterHubRecoveryAcrossProcesses(t *testing.T) {
	t.Parallel()
	addrs := clusterAddrs(t)
	testHubRecoveryAcrossProcesses(t, func() redis.UniversalClient { return clusterClient(addrs) })
}

// Members rejoin on process 2 with a position while processes 0 and 1
// publish without pause: each gets every publication after its position
// once, in order, with no gap or duplicate at the seam between history and
// live delivery. Repeated, so that the join lands at every point of a
// publish.
func testHubRecoverySeam(t *testing.T, newClient func() redis.UniversalClient) {
	const rounds, perPublisher = 10, 100
	hubs := historyHubs(t, 3, newClient)
	ctx := context.Background()
	for round := range rounds {
		room := fmt.Sprint("seam", round)
		start, err := hubs[0].PublishWithPosition(ctx, room, []byte("start"), false)
		require.NoError(t, err)
		var wg sync.WaitGroup
		for _, p := range hubs[:2] {
			wg.Go(func() {
				for j := range perPublisher {
					assert.NoError(t, p.Publish(ctx, room, fmt.Append(nil, j), false))
				}
			})
		}
		m := &hubtest.Member{Keep: true}
		var res hub.JoinResult
		wg.Go(func() { res = hubs[2].JoinWith(ctx, room, m, hub.JoinOptions{Since: start}) })
		wg.Wait()
		require.True(t, res.Recovered, "round %d: %v", round, res.Err)
		last := start.Offset + 2*perPublisher
		require.Eventually(t, func() bool {
			got := m.Received()
			return len(got) > 0 && hubtest.ParseFrame(t, got[len(got)-1]).Offset == last
		}, 20*time.Second, 5*time.Millisecond, "round %d: all received", round)

		next, joined := start.Offset+1, false
		for _, data := range m.Received() {
			f := hubtest.ParseFrame(t, data)
			if f.Tornago == "joined" {
				require.False(t, joined)
				joined = true
				require.Equal(t, next-1, f.Offset, "round %d: joined at the last recovered", round)
				continue
			}
			require.Equal(t, "pub", f.Tornago)
			require.Equal(t, next, f.Offset, "round %d: a gap or a duplicate", round)
			require.Equal(t, start.Epoch, f.Epoch)
			next++
		}
		require.True(t, joined)
		hubs[2].LeaveAll(m)
	}
}

func TestHubRecoverySeam(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	testHubRecoverySeam(t, func() redis.UniversalClient { return singleClient(addr) })
}

func TestClusterHubRecoverySeam(t *testing.T) {
	t.Parallel()
	addrs := clusterAddrs(t)
	testHubRecoverySeam(t, func() redis.UniversalClient { return clusterClient(addrs) })
}

// Presence across three processes: a member on each, all three listed
// from any process and announced to a watcher on another; then process 2
// stops without its member leaving (as a killed process would: nobody
// removes its entry) and the entry is gone from the cluster's presence
// within the TTL, while the others stay, refreshed.
func testHubPresence(t *testing.T, newClient func() redis.UniversalClient) {
	const ttl = time.Second
	hubs := historyHubs(t, 3, newClient, hub.WithPresenceTTL(ttl))
	ctx := context.Background()
	watcher := &hubtest.Member{Keep: true}
	res := hubs[0].JoinWith(ctx, "lobby", watcher, hub.JoinOptions{WatchPresence: true})
	require.NoError(t, res.Err)
	for i, h := range hubs {
		res := h.JoinWith(ctx, "lobby", &hubtest.Member{}, hub.JoinOptions{
			Presence: &hub.ClientInfo{UserID: fmt.Sprint("user", i), Info: []byte(`{"n":1}`)}})
		require.NoError(t, res.PresenceErr)
	}
	users := func() []string {
		infos, err := hubs[0].ClusterPresence(ctx, "lobby")
		require.NoError(t, err)
		var u []string
		for _, c := range infos {
			u = append(u, c.UserID)
		}
		return u
	}
	assert.ElementsMatch(t, []string{"user0", "user1", "user2"}, users())
	require.Eventually(t, func() bool {
		joins := 0
		for _, d := range watcher.Received() {
			if strings.Contains(d, `"join"`) {
				joins++
			}
		}
		return joins >= 2 // those of processes 1 and 2 (its own process's too, perhaps)
	}, 10*time.Second, 5*time.Millisecond, "watcher got %v", watcher.Received())

	require.NoError(t, hubs[2].Close())
	require.Eventually(t, func() bool { return len(users()) == 2 }, 10*ttl, 20*time.Millisecond)
	assert.ElementsMatch(t, []string{"user0", "user1"}, users())
	time.Sleep(2 * ttl) // the others' entries outlive their TTL, refreshed
	assert.ElementsMatch(t, []string{"user0", "user1"}, users())
}

func TestHubPresence(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	testHubPresence(t, func() redis.UniversalClient { return singleClient(addr) })
}

func TestClusterHubPresence(t *testing.T) {
	t.Parallel()
	addrs := clusterAddrs(t)
	testHubPresence(t, func() redis.UniversalClient { return clusterClient(addrs) })
}
