// Package brokertest checks that a hub.Broker keeps the contract of
// hub.HistoryBroker and hub.PresenceBroker, the same way for every broker:
// the tests of hub run it against the memory broker, those of
// hub/redisbroker against Redis (single and Cluster).
package brokertest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/hub"
)

// Nodes returns n brokers, not started, connected to one backplane of
// their own (a fresh prefix on a shared Redis, say), as n processes'
// brokers would be. The test closes them.
type Nodes func(t *testing.T, n int) []hub.Broker

// wait bounds every wait for a delivery.
const wait = 10 * time.Second

// Recorder is a hub.Deliverer that keeps what it is given.
type Recorder struct {
	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every delivery
	pubs     map[string][]hub.Publication
	presence map[string][]hub.PresenceEvent
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{
		changed:  make(chan struct{}),
		pubs:     map[string][]hub.Publication{},
		presence: map[string][]hub.PresenceEvent{},
	}
}

// Deliver implements hub.Deliverer.
func (r *Recorder) Deliver(topic string, p hub.Publication) {
	p.Data = slices.Clone(p.Data)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pubs[topic] = append(r.pubs[topic], p)
	r.notifyLocked()
}

// DeliverPresence implements hub.Deliverer.
func (r *Recorder) DeliverPresence(topic string, e hub.PresenceEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.presence[topic] = append(r.presence[topic], e)
	r.notifyLocked()
}

func (r *Recorder) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Publications returns what topic got so far.
func (r *Recorder) Publications(topic string) []hub.Publication {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.pubs[topic])
}

// PresenceEvents returns the presence events topic got so far.
func (r *Recorder) PresenceEvents(topic string) []hub.PresenceEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.presence[topic])
}

// WaitPublications waits until topic got n publications and returns them.
func (r *Recorder) WaitPublications(t testing.TB, topic string, n int) []hub.Publication {
	t.Helper()
	return waitFor(t, r, func() []hub.Publication { return r.pubs[topic] }, n, topic+": publications")
}

// WaitPresence waits until topic got n presence events and returns them.
func (r *Recorder) WaitPresence(t testing.TB, topic string, n int) []hub.PresenceEvent {
	t.Helper()
	return waitFor(t, r, func() []hub.PresenceEvent { return r.presence[topic] }, n, topic+": presence events")
}

// waitFor waits until list, read under r's lock, holds n items, and
// returns a copy of it; what names the list in the failure.
func waitFor[T any](t testing.TB, r *Recorder, list func() []T, n int, what string) []T {
	t.Helper()
	deadline := time.After(wait)
	for {
		r.mu.Lock()
		got, changed := slices.Clone(list()), r.changed
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%s: got %d of %d", what, len(got), n)
		}
	}
}

// started returns n started brokers of nodes and their recorders.
func started(t *testing.T, nodes Nodes, n int) ([]hub.Broker, []*Recorder) {
	t.Helper()
	bs := nodes(t, n)
	require.Len(t, bs, n)
	rs := make([]*Recorder, n)
	for i, b := range bs {
		rs[i] = NewRecorder()
		b.Start(rs[i])
		t.Cleanup(func() { _ = b.Close() })
	}
	return bs, rs
}

// subscribe subscribes every broker to topic and waits until it is in
// effect.
func subscribe(t *testing.T, bs []hub.Broker, topic string) {
	t.Helper()
	for _, b := range bs {
		b.Subscribe(topic)
	}
	for _, b := range bs {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		require.NoError(t, b.(hub.HistoryBroker).WaitSubscribed(ctx, topic))
		cancel()
	}
}

// offsets returns the offsets of pubs.
func offsets(pubs []hub.Publication) []uint64 {
	o := make([]uint64, len(pubs))
	for i, p := range pubs {
		o[i] = p.Position.Offset
	}
	return o
}

// seq returns from, from+1, ..., to.
func seq(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// publishN publishes "prefix0" .. "prefix(n-1)" as text and returns their
// positions.
func publishN(t *testing.T, b hub.HistoryBroker, topic, prefix string, n int, policy hub.HistoryPolicy) []hub.Position {
	t.Helper()
	ps := make([]hub.Position, n)
	for i := range ps {
		p, err := b.PublishHistory(context.Background(), topic,
			hub.Message{Data: fmt.Appendf(nil, "%s%d", prefix, i)}, policy)
		require.NoError(t, err)
		ps[i] = p
	}
	return ps
}

// history calls b.History with a bounded context.
func history(b hub.HistoryBroker, topic string, since hub.Position, policy hub.HistoryPolicy) ([]hub.Publication, hub.Position, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return b.History(ctx, topic, since, policy)
}

// TestHistoryBroker checks the brokers of nodes against
// hub.HistoryBroker's contract.
func TestHistoryBroker(t *testing.T, nodes Nodes) {
	policy := hub.HistoryPolicy{Size: 100, TTL: time.Minute}

	t.Run("EpochBeforeFirstPublish", func(t *testing.T) {
		bs, _ := started(t, nodes, 2)
		b0, b1 := bs[0].(hub.HistoryBroker), bs[1].(hub.HistoryBroker)
		pubs, top, err := history(b0, "room:fresh", hub.Position{}, policy)
		require.NoError(t, err)
		assert.Empty(t, pubs)
		require.NotEmpty(t, top.Epoch)
		assert.Zero(t, top.Offset)

		// The position taken before the first publish recovers it, on
		// another node.
		p, err := b1.PublishHistory(context.Background(), "room:fresh", hub.Message{Data: []byte("first")}, policy)
		require.NoError(t, err)
		assert.Equal(t, hub.Position{Epoch: top.Epoch, Offset: 1}, p)
		pubs, top2, err := history(b1, "room:fresh", top, policy)
		require.NoError(t, err)
		require.Len(t, pubs, 1)
		assert.Equal(t, "first", string(pubs[0].Data))
		assert.Equal(t, p, pubs[0].Position)
		assert.Equal(t, p, top2)
	})

	t.Run("DeliveredToEveryNodeInOffsetOrder", func(t *testing.T) {
		bs, rs := started(t, nodes, 3)
		subscribe(t, bs, "room:all")
		ps := publishN(t, bs[1].(hub.HistoryBroker), "room:all", "m", 20, policy)
		assert.Equal(t, seq(1, 20), offsets(toPubs(ps)))
		_, err := bs[1].(hub.HistoryBroker).PublishHistory(context.Background(), "room:all",
			hub.Message{Data: []byte{0, 1, 2}, Binary: true}, policy)
		require.NoError(t, err)
		for i, r := range rs { // the publisher's own node included
			got := r.WaitPublications(t, "room:all", 21)
			require.Len(t, got, 21, "node %d", i)
			assert.Equal(t, seq(1, 21), offsets(got), "node %d", i)
			for j, p := range got[:20] {
				assert.Equal(t, fmt.Sprintf("m%d", j), string(p.Data))
				assert.False(t, p.Binary)
				assert.Equal(t, ps[0].Epoch, p.Position.Epoch)
			}
			assert.True(t, got[20].Binary)
			assert.Equal(t, []byte{0, 1, 2}, got[20].Data)
		}
	})

	t.Run("HistorySince", func(t *testing.T) {
		bs, _ := started(t, nodes, 2)
		b0, b1 := bs[0].(hub.HistoryBroker), bs[1].(hub.HistoryBroker)
		ps := publishN(t, b0, "room:since", "m", 10, policy)
		epoch := ps[0].Epoch

		pubs, top, err := history(b1, "room:since", ps[2], policy)
		require.NoError(t, err)
		assert.Equal(t, ps[9], top)
		assert.Equal(t, seq(4, 10), offsets(pubs))
		assert.Equal(t, "m3", string(pubs[0].Data))

		pubs, _, err = history(b1, "room:since", hub.Position{Epoch: epoch}, policy)
		require.NoError(t, err, "offset 0 of the epoch: everything")
		assert.Equal(t, seq(1, 10), offsets(pubs))

		pubs, top, err = history(b1, "room:since", ps[9], policy)
		require.NoError(t, err, "at the top: nothing missed")
		assert.Empty(t, pubs)
		assert.Equal(t, ps[9], top)

		for name, since := range map[string]hub.Position{
			"beyond the top": {Epoch: epoch, Offset: 11},
			"another epoch":  {Epoch: epoch + "x", Offset: 3},
		} {
			pubs, _, err = history(b1, "room:since", since, policy)
			require.ErrorIs(t, err, hub.ErrUnrecoverable, name)
			assert.Empty(t, pubs, name)
		}
	})

	t.Run("SizeBoundsHistory", func(t *testing.T) {
		bs, _ := started(t, nodes, 1)
		b := bs[0].(hub.HistoryBroker)
		small := hub.HistoryPolicy{Size: 5, TTL: time.Minute}
		ps := publishN(t, b, "room:small", "m", 12, small)
		pubs, _, err := history(b, "room:small", ps[6], small) // after 7: 8..12, all kept
		require.NoError(t, err)
		assert.Equal(t, seq(8, 12), offsets(pubs))
		_, _, err = history(b, "room:small", ps[5], small) // 7 is gone
		require.ErrorIs(t, err, hub.ErrUnrecoverable)
	})

	t.Run("TTLExpiresPublicationsNotTheEpoch", func(t *testing.T) {
		bs, _ := started(t, nodes, 1)
		b := bs[0].(hub.HistoryBroker)
		short := hub.HistoryPolicy{Size: 10, TTL: 300 * time.Millisecond}
		ps := publishN(t, b, "room:ttl", "m", 2, short)
		// Once the publications expire, a position before them cannot
		// be recovered, but the last one can: nothing came after it.
		require.Eventually(t, func() bool {
			_, _, err := history(b, "room:ttl", ps[0], short)
			return err != nil
		}, wait, 20*time.Millisecond)
		_, _, err := history(b, "room:ttl", ps[0], short)
		require.ErrorIs(t, err, hub.ErrUnrecoverable)
		pubs, top, err := history(b, "room:ttl", ps[1], short)
		require.NoError(t, err)
		assert.Empty(t, pubs)
		assert.Equal(t, ps[1], top)
		p, err := b.PublishHistory(context.Background(), "room:ttl", hub.Message{Data: []byte("later")}, short)
		require.NoError(t, err)
		assert.Equal(t, hub.Position{Epoch: ps[1].Epoch, Offset: 3}, p)
	})

	t.Run("ConcurrentPublishersShareOneCounter", func(t *testing.T) {
		const perNode = 100
		bs, rs := started(t, nodes, 3)
		subscribe(t, bs, "room:race")
		var wg sync.WaitGroup
		for i, b := range bs {
			wg.Go(func() {
				for j := range perNode {
					_, err := b.(hub.HistoryBroker).PublishHistory(context.Background(), "room:race",
						hub.Message{Data: fmt.Appendf(nil, "%d-%d", i, j)}, hub.HistoryPolicy{Size: 1000})
					assert.NoError(t, err)
				}
			})
		}
		wg.Wait()
		var first []hub.Publication
		for i, r := range rs {
			got := r.WaitPublications(t, "room:race", 3*perNode)
			require.Equal(t, seq(1, 3*perNode), offsets(got), "node %d", i)
			if i == 0 {
				first = got
				continue
			}
			assert.Equal(t, first, got, "node %d: another order", i)
		}
		// Each publisher's messages in its order.
		next := make([]int, len(bs))
		for _, p := range first {
			var i, j int
			_, err := fmt.Sscanf(string(p.Data), "%d-%d", &i, &j)
			require.NoError(t, err)
			require.Equal(t, next[i], j)
			next[i]++
		}
	})

	t.Run("WaitSubscribedNeedsSubscribe", func(t *testing.T) {
		bs, rs := started(t, nodes, 2)
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		require.Error(t, bs[0].(hub.HistoryBroker).WaitSubscribed(ctx, "room:none"))
		// A node not subscribed gets nothing; the subscribed one does.
		subscribe(t, bs[1:], "room:none")
		publishN(t, bs[0].(hub.HistoryBroker), "room:none", "m", 3, policy)
		rs[1].WaitPublications(t, "room:none", 3)
		assert.Empty(t, rs[0].Publications("room:none"))
	})
}

func toPubs(ps []hub.Position) []hub.Publication {
	pubs := make([]hub.Publication, len(ps))
	for i, p := range ps {
		pubs[i].Position = p
	}
	return pubs
}

// TestPresenceBroker checks the brokers of nodes against
// hub.PresenceBroker's contract. They must be HistoryBrokers too (the
// check that an event is not handed back to its publisher uses a
// publication that is).
func TestPresenceBroker(t *testing.T, nodes Nodes) {
	ctx := context.Background()
	ann := hub.ClientInfo{ClientID: "c1", UserID: "ann", Info: []byte(`{"name":"Ann"}`)}
	bob := hub.ClientInfo{ClientID: "c2", UserID: "bob"}

	t.Run("AcrossNodes", func(t *testing.T) {
		bs, _ := started(t, nodes, 3)
		p := func(i int) hub.PresenceBroker { return bs[i].(hub.PresenceBroker) }
		require.NoError(t, p(0).AddPresence(ctx, "room:p", ann, time.Minute))
		require.NoError(t, p(1).AddPresence(ctx, "room:p", bob, time.Minute))
		got, err := p(2).Presence(ctx, "room:p")
		require.NoError(t, err)
		assert.ElementsMatch(t, []hub.ClientInfo{ann, bob}, got)

		renamed := ann
		renamed.Info = []byte(`{"name":"Annie"}`)
		require.NoError(t, p(0).AddPresence(ctx, "room:p", renamed, time.Minute))
		require.NoError(t, p(2).RemovePresence(ctx, "room:p", bob.ClientID))
		require.NoError(t, p(2).RemovePresence(ctx, "room:p", "nobody"))
		got, err = p(1).Presence(ctx, "room:p")
		require.NoError(t, err)
		assert.Equal(t, []hub.ClientInfo{renamed}, got)

		got, err = p(1).Presence(ctx, "room:empty")
		require.NoError(t, err)
		assert.Empty(t, got)
	})

	t.Run("EntriesExpire", func(t *testing.T) {
		bs, _ := started(t, nodes, 2)
		p0, p1 := bs[0].(hub.PresenceBroker), bs[1].(hub.PresenceBroker)
		require.NoError(t, p0.AddPresence(ctx, "room:x", ann, 300*time.Millisecond))
		require.NoError(t, p1.AddPresence(ctx, "room:x", bob, time.Minute))
		require.Eventually(t, func() bool {
			got, err := p1.Presence(ctx, "room:x")
			return err == nil && len(got) == 1
		}, wait, 20*time.Millisecond)
		got, err := p1.Presence(ctx, "room:x")
		require.NoError(t, err)
		assert.Equal(t, []hub.ClientInfo{bob}, got, "the entry not refreshed expired, the other stays")
	})

	t.Run("EventsReachOtherNodes", func(t *testing.T) {
		bs, rs := started(t, nodes, 3)
		subscribe(t, bs, "room:ev")
		join := hub.PresenceEvent{Client: ann}
		leave := hub.PresenceEvent{Leave: true, Client: ann}
		require.NoError(t, bs[0].(hub.PresenceBroker).PublishPresence(ctx, "room:ev", join))
		require.NoError(t, bs[0].(hub.PresenceBroker).PublishPresence(ctx, "room:ev", leave))
		// A publication after them reaches node 0 too: had the events
		// been handed back to it, they would have come first.
		_, err := bs[0].(hub.HistoryBroker).PublishHistory(ctx, "room:ev", hub.Message{Data: []byte("after")},
			hub.HistoryPolicy{Size: 1})
		require.NoError(t, err)
		rs[0].WaitPublications(t, "room:ev", 1)
		assert.Empty(t, rs[0].PresenceEvents("room:ev"))
		for _, r := range rs[1:] {
			assert.Equal(t, []hub.PresenceEvent{join, leave}, r.WaitPresence(t, "room:ev", 2))
		}
	})
}
