package redisbroker_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/hub/internal/brokertest"
	"github.com/tornago/tornago/hub/redisbroker"
	"github.com/tornago/tornago/internal/testenv"
)

// process is one process's broker in a recovery test, with the recorder
// its hub would be.
type process struct {
	client redis.UniversalClient
	broker *redisbroker.Broker
	rec    *brokertest.Recorder
}

func newProcess(t *testing.T, client redis.UniversalClient, prefix string, opts ...redisbroker.Option) *process {
	t.Helper()
	p := &process{client: client, rec: brokertest.NewRecorder()}
	opts = append([]redisbroker.Option{redisbroker.WithPrefix(prefix),
		redisbroker.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	p.broker = redisbroker.New(client, opts...)
	p.broker.Start(p.rec)
	t.Cleanup(func() {
		require.NoError(t, p.broker.Close())
		require.NoError(t, client.Close())
	})
	return p
}

func singleClient(addr string) redis.UniversalClient {
	return redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second})
}

func clusterClient(addrs []string) redis.UniversalClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, DialTimeout: time.Second})
}

// waitSubscribed subscribes p to topic and waits until Redis confirmed it.
func (p *process) waitSubscribed(t *testing.T, topic string) {
	t.Helper()
	p.broker.Subscribe(topic)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, p.broker.WaitSubscribed(ctx, topic))
}

var recoveryPolicy = hub.HistoryPolicy{Size: 10000, TTL: time.Minute}

// publisher publishes to topic on p until stop is closed, recording what
// each position carried.
func publisher(t *testing.T, p *process, topic, name string, sent *sync.Map, stop <-chan struct{}) func() {
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			data := fmt.Sprintf("%s%d", name, i)
			pos, err := p.broker.PublishHistory(context.Background(), topic, hub.Message{Data: []byte(data)}, recoveryPolicy)
			if !assert.NoError(t, err) {
				return
			}
			sent.Store(pos.Offset, data)
		}
	})
	return wg.Wait
}

// recoverOn makes p rejoin topic with position since as the hub does:
// subscribe, wait until Redis confirmed it, read the history since the
// position, then take the live publications after the last one read. It
// returns the history and the function that reads the live part.
func recoverOn(t *testing.T, p *process, topic string, since hub.Position) ([]hub.Publication, func(to uint64) []hub.Publication) {
	t.Helper()
	p.waitSubscribed(t, topic)
	pubs, top, err := p.broker.History(context.Background(), topic, since, recoveryPolicy)
	require.NoError(t, err)
	require.Equal(t, top.Offset-since.Offset, uint64(len(pubs)), "every publication up to the top")
	return pubs, func(to uint64) []hub.Publication {
		var live []hub.Publication
		for _, pub := range p.rec.WaitPublications(t, topic, 0) {
			if pub.Position.Offset > top.Offset {
				live = append(live, pub)
			}
		}
		deadline := time.Now().Add(20 * time.Second)
		for len(live) == 0 || live[len(live)-1].Position.Offset < to {
			require.True(t, time.Now().Before(deadline), "live publications up to %d", to)
			time.Sleep(5 * time.Millisecond)
			live = live[:0]
			for _, pub := range p.rec.Publications(topic) {
				if pub.Position.Offset > top.Offset {
					live = append(live, pub)
				}
			}
		}
		return live
	}
}

// testRecovery is the scenario of issue 16 on three processes: a member of
// process 1 has received up to some position and drops; process 2
// publishes n messages; the member rejoins on process 3 with its position
// while processes 1 and 2 keep publishing. What process 3 gives it, the
// history read and then the live publications after it, is exactly the n
// messages in order, then every later publication once, in offset order,
// with no gap or duplicate at the seam.
func testRecovery(t *testing.T, newClient func() redis.UniversalClient, n int) {
	prefix := uniquePrefix()
	p1, p2, p3 := newProcess(t, newClient(), prefix), newProcess(t, newClient(), prefix), newProcess(t, newClient(), prefix)
	for round := range 3 {
		topic := fmt.Sprint("room:recover", round)
		p1.waitSubscribed(t, topic)
		var sent sync.Map
		for i := range 20 {
			pos, err := p2.broker.PublishHistory(context.Background(), topic, hub.Message{Data: fmt.Appendf(nil, "before%d", i)}, recoveryPolicy)
			require.NoError(t, err)
			sent.Store(pos.Offset, fmt.Sprint("before", i))
		}
		got := p1.rec.WaitPublications(t, topic, 20)
		last := got[len(got)-1].Position // the member drops here

		missed := make([]string, n)
		for i := range missed {
			missed[i] = fmt.Sprint("missed", i)
			pos, err := p2.broker.PublishHistory(context.Background(), topic, hub.Message{Data: []byte(missed[i])}, recoveryPolicy)
			require.NoError(t, err)
			sent.Store(pos.Offset, missed[i])
		}
		stop := make(chan struct{})
		waits := []func(){publisher(t, p1, topic, "a", &sent, stop), publisher(t, p2, topic, "b", &sent, stop)}
		time.Sleep(20 * time.Millisecond) // let them publish across the rejoin

		hist, live := recoverOn(t, p3, topic, last)
		time.Sleep(20 * time.Millisecond)
		close(stop)
		for _, w := range waits {
			w()
		}
		final, _, err := p3.broker.History(context.Background(), topic, hub.Position{}, recoveryPolicy)
		require.NoError(t, err)
		require.Empty(t, final)
		_, top, err := p1.broker.History(context.Background(), topic, last, recoveryPolicy)
		require.NoError(t, err)

		data := func(pubs []hub.Publication) []string {
			s := make([]string, len(pubs))
			for i, p := range pubs {
				s[i] = string(p.Data)
			}
			return s
		}
		require.GreaterOrEqual(t, len(hist), n)
		assert.Equal(t, missed, data(hist[:n]), "round %d: the missed messages first, in order", round)
		all := append(slices.Clone(hist), live(top.Offset)...)
		for i, p := range all {
			want := last.Offset + 1 + uint64(i)
			require.Equal(t, want, p.Position.Offset, "round %d: publication %d", round, i)
			require.Equal(t, last.Epoch, p.Position.Epoch)
			s, _ := sent.Load(want)
			require.Equal(t, s, string(p.Data), "round %d: offset %d", round, want)
		}
		require.Equal(t, top.Offset, all[len(all)-1].Position.Offset)
		t.Logf("round %d: %d from history, %d live after it", round, len(hist), len(all)-len(hist))
	}
}

func TestRecoveryAcrossProcesses(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	testRecovery(t, func() redis.UniversalClient { return singleClient(addr) }, 100)
}

func TestClusterRecoveryAcrossProcesses(t *testing.T) {
	t.Parallel()
	addrs := clusterAddrs(t)
	testRecovery(t, func() redis.UniversalClient { return clusterClient(addrs) }, 100)
}

// A position of another epoch, beyond the top or trimmed away is "not
// recovered" (hub.ErrUnrecoverable), on any process.
func TestRecoveryRefused(t *testing.T) {
	t.Parallel()
	addr, prefix := redisAddr(t), uniquePrefix()
	p1, p2 := newProcess(t, singleClient(addr), prefix), newProcess(t, singleClient(addr), prefix)
	small := hub.HistoryPolicy{Size: 10, TTL: time.Minute}
	var positions []hub.Position
	for i := range 30 {
		pos, err := p1.broker.PublishHistory(context.Background(), "room:r", hub.Message{Data: fmt.Append(nil, i)}, small)
		require.NoError(t, err)
		positions = append(positions, pos)
	}
	top := positions[29]
	for name, since := range map[string]hub.Position{
		"too old":       positions[5],
		"another epoch": {Epoch: "other", Offset: 25},
		"beyond top":    {Epoch: top.Epoch, Offset: 31},
	} {
		pubs, _, err := p2.broker.History(context.Background(), "room:r", since, small)
		require.ErrorIs(t, err, hub.ErrUnrecoverable, name)
		assert.Empty(t, pubs, name)
	}
	pubs, _, err := p2.broker.History(context.Background(), "room:r", positions[19], small)
	require.NoError(t, err, "the oldest kept is recoverable")
	assert.Len(t, pubs, 10)
}

// Redis dies and comes back empty (no persistence): publishes to a room
// with history fail while it is down, with ErrUnavailable, and resume by
// themselves; the stream starts a new epoch, so a position of the old one
// is not recovered.
func TestHistoryAcrossRedisRestart(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	prefix := uniquePrefix()
	opts := []redisbroker.Option{redisbroker.WithBackoff(20*time.Millisecond, 200*time.Millisecond)}
	p1 := newProcess(t, singleClient(r.Addr), prefix, opts...)
	p2 := newProcess(t, singleClient(r.Addr), prefix, opts...)
	p2.waitSubscribed(t, "room:r")
	ctx := context.Background()
	before, err := p1.broker.PublishHistory(ctx, "room:r", hub.Message{Data: []byte("before")}, recoveryPolicy)
	require.NoError(t, err)
	p2.rec.WaitPublications(t, "room:r", 1) // else Redis may die before sending it on

	r.Kill()
	for _, p := range []*process{p1, p2} {
		require.Eventually(t, func() bool { return !p.broker.Health().Up }, 5*time.Second, time.Millisecond)
	}
	_, err = p1.broker.PublishHistory(ctx, "room:r", hub.Message{Data: []byte("during")}, recoveryPolicy)
	require.ErrorIs(t, err, redisbroker.ErrUnavailable)
	_, _, err = p1.broker.History(ctx, "room:r", before, recoveryPolicy)
	require.ErrorIs(t, err, redisbroker.ErrUnavailable)

	r.Start(t)
	require.Eventually(t, func() bool { return p1.broker.Health().Up && p2.broker.Health().Up },
		10*time.Second, 5*time.Millisecond)
	ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, p2.broker.WaitSubscribed(ctx2, "room:r"))
	after, err := p1.broker.PublishHistory(ctx, "room:r", hub.Message{Data: []byte("after")}, recoveryPolicy)
	require.NoError(t, err)
	assert.NotEqual(t, before.Epoch, after.Epoch, "history was lost: a new epoch")
	assert.Equal(t, uint64(1), after.Offset)
	_, _, err = p2.broker.History(ctx, "room:r", before, recoveryPolicy)
	require.ErrorIs(t, err, hub.ErrUnrecoverable)
	got := p2.rec.WaitPublications(t, "room:r", 2)
	assert.Equal(t, []string{"before", "after"}, []string{string(got[0].Data), string(got[1].Data)})
}

// Presence across three processes: each adds its member, all see the
// three; one process dies without removing its entry (its broker and
// client closed, nothing refreshed) and its entry is gone from the others'
// view within the TTL.
func TestPresenceProcessDies(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	testPresenceProcessDies(t, func() redis.UniversalClient { return singleClient(addr) })
}

func TestClusterPresenceProcessDies(t *testing.T) {
	t.Parallel()
	addrs := clusterAddrs(t)
	testPresenceProcessDies(t, func() redis.UniversalClient { return clusterClient(addrs) })
}

func testPresenceProcessDies(t *testing.T, newClient func() redis.UniversalClient) {
	prefix := uniquePrefix()
	const ttl = 500 * time.Millisecond
	ps := []*process{newProcess(t, newClient(), prefix), newProcess(t, newClient(), prefix)}
	dyingClient := newClient()
	defer dyingClient.Close()
	dying := redisbroker.New(dyingClient, redisbroker.WithPrefix(prefix), redisbroker.WithLogger(slog.New(slog.DiscardHandler)))
	dying.Start(brokertest.NewRecorder())
	ctx := context.Background()
	var refreshes atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, p := range ps { // the living refresh, as the hub does every ttl/3
		wg.Go(func() {
			for {
				assert.NoError(t, p.broker.AddPresence(ctx, "room:p", hub.ClientInfo{ClientID: fmt.Sprint("c", i)}, ttl))
				refreshes.Add(1)
				select {
				case <-stop:
					return
				case <-time.After(ttl / 3):
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	require.NoError(t, dying.AddPresence(ctx, "room:p", hub.ClientInfo{ClientID: "dying", UserID: "u"}, ttl))
	ids := func() []string {
		infos, err := ps[0].broker.Presence(ctx, "room:p")
		require.NoError(t, err)
		var s []string
		for _, c := range infos {
			s = append(s, c.ClientID)
		}
		return s
	}
	require.Eventually(t, func() bool { return len(ids()) == 3 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, dying.Close()) // it never removes its entry
	require.Eventually(t, func() bool { return len(ids()) == 2 }, 10*ttl, 10*time.Millisecond)
	assert.ElementsMatch(t, []string{"c0", "c1"}, ids())
}

// On a Redis Cluster of the test's own, the master that holds one room's
// history is killed and started again (empty: no persistence, no
// replica). Meanwhile a room on another master keeps publishing and a
// member of it recovers across processes; the dead master's room fails
// its publishes with ErrUnavailable, resumes by itself once the master is
// back, with a new epoch, so that a position from before is not
// recovered.
func TestClusterRecoveryMasterRestarted(t *testing.T) {
	t.Parallel()
	cluster := testenv.StartRedisCluster(t, 3)
	prefix := uniquePrefix()
	opts := []redisbroker.Option{redisbroker.WithBackoff(20*time.Millisecond, 200*time.Millisecond),
		redisbroker.WithPingInterval(time.Second)}
	p1 := newProcess(t, clusterClient(cluster.Addrs()), prefix, opts...)
	p2 := newProcess(t, clusterClient(cluster.Addrs()), prefix, opts...)
	ctx := context.Background()

	// Two rooms on different masters.
	masterOf := func(topic string) string {
		m, err := p1.client.(*redis.ClusterClient).MasterForKey(ctx, p1.broker.ChannelOf(topic))
		require.NoError(t, err)
		return m.Options().Addr
	}
	doomed := "room:doomed"
	var safe string
	for i := 0; safe == ""; i++ {
		if topic := fmt.Sprint("room:safe", i); masterOf(topic) != masterOf(doomed) {
			safe = topic
		}
	}
	var dead *testenv.RedisServer
	for _, m := range cluster.Masters {
		if m.Addr == masterOf(doomed) {
			dead = m
		}
	}
	require.NotNil(t, dead)

	publish := func(p *process, topic, data string) (hub.Position, error) {
		return p.broker.PublishHistory(ctx, topic, hub.Message{Data: []byte(data)}, recoveryPolicy)
	}
	doomedPos, err := publish(p1, doomed, "d0")
	require.NoError(t, err)
	safePos, err := publish(p1, safe, "s0") // the member of safe drops here
	require.NoError(t, err)

	dead.Kill()
	for _, p := range []*process{p1, p2} {
		require.Eventually(t, func() bool { return !p.broker.Health().Up }, 10*time.Second, 5*time.Millisecond)
	}
	_, err = publish(p1, doomed, "lost")
	require.ErrorIs(t, err, redisbroker.ErrUnavailable)
	for i := 1; i <= 5; i++ {
		_, err := publish(p1, safe, fmt.Sprint("s", i))
		require.NoError(t, err, "a room on a living master")
	}
	pubs, _, err := p2.broker.History(ctx, safe, safePos, recoveryPolicy)
	require.NoError(t, err)
	require.Len(t, pubs, 5)

	dead.Start(t)
	cluster.WaitOK(t)
	require.Eventually(t, func() bool { return p1.broker.Health().Up && p2.broker.Health().Up },
		20*time.Second, 5*time.Millisecond)
	p2.waitSubscribed(t, doomed)
	after, err := publish(p1, doomed, "d1")
	require.NoError(t, err, "resumed by itself")
	assert.NotEqual(t, doomedPos.Epoch, after.Epoch, "the master came back empty: a new epoch")
	_, _, err = p2.broker.History(ctx, doomed, doomedPos, recoveryPolicy)
	require.ErrorIs(t, err, hub.ErrUnrecoverable)
	assert.Equal(t, "d1", string(p2.rec.WaitPublications(t, doomed, 1)[0].Data))
	pubs, _, err = p2.broker.History(ctx, safe, safePos, recoveryPolicy)
	require.NoError(t, err)
	assert.Len(t, pubs, 5, "the other master's history is untouched")
}
