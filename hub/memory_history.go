package hub

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"time"
)

// memoryStreams is the history of the topics of connected memory brokers:
// a bounded ring per topic. A stream's lock is held while its publication
// is delivered, so that every hub gets a topic's publications in offset
// order; it is never taken while a hub's lock is held.
type memoryStreams struct {
	mu        sync.Mutex
	streams   map[string]*memoryStream
	lastSweep time.Time
}

// memoryStream is one topic's history: the epoch, the top offset, and the
// latest publications, at most the policy's Size, in a ring: n of them
// from head on, oldest first.
type memoryStream struct {
	mu      sync.Mutex
	epoch   string
	top     uint64
	ring    []timedPublication
	head, n int
	expires time.Time // when the epoch and top go: MetaTTL after the last publish
	dead    bool      // swept out of the map
}

type timedPublication struct {
	p    Publication
	when time.Time
}

// sweepEvery is how often a stream access also looks for streams to
// remove.
const sweepEvery = time.Minute

// lock returns topic's stream, locked, making one if it has none. A
// stream whose meta TTL passed starts a new epoch, empty.
func (s *memoryStreams) lock(topic string, policy HistoryPolicy, now time.Time) *memoryStream {
	for {
		s.mu.Lock()
		s.sweepLocked(now)
		st := s.streams[topic]
		if st == nil {
			st = &memoryStream{}
			s.streams[topic] = st
		}
		s.mu.Unlock()
		st.mu.Lock()
		if st.dead {
			st.mu.Unlock()
			continue // swept after we found it: look again
		}
		if !now.Before(st.expires) {
			st.epoch, st.top = newEpoch(), 0
			st.ring, st.head, st.n = nil, 0, 0
			st.expires = now.Add(policy.EffectiveMetaTTL())
		}
		return st
	}
}

// sweepLocked removes, every sweepEvery, the streams whose meta TTL
// passed, so that topics no longer used do not pile up.
func (s *memoryStreams) sweepLocked(now time.Time) {
	if now.Sub(s.lastSweep) < sweepEvery {
		return
	}
	s.lastSweep = now
	for name, st := range s.streams {
		st.mu.Lock()
		if !now.Before(st.expires) {
			st.dead = true
			delete(s.streams, name)
		}
		st.mu.Unlock()
	}
}

// newEpoch returns a random epoch name.
func newEpoch() string { return rand.Text()[:12] }

// at returns the i-th publication kept, oldest first.
func (st *memoryStream) at(i int) *timedPublication { return &st.ring[(st.head+i)%len(st.ring)] }

// pushLocked appends tp to the ring of policy's Size, dropping the oldest
// when it is full.
func (st *memoryStream) pushLocked(tp timedPublication, policy HistoryPolicy) {
	if len(st.ring) != policy.Size { // a first push, or the policy changed
		ring := make([]timedPublication, policy.Size)
		keep := min(st.n, policy.Size)
		for i := range keep {
			ring[i] = *st.at(st.n - keep + i)
		}
		st.ring, st.head, st.n = ring, 0, keep
	}
	if st.n < len(st.ring) {
		*st.at(st.n) = tp
		st.n++
		return
	}
	st.ring[st.head] = tp
	st.head = (st.head + 1) % len(st.ring)
}

// trimLocked drops the publications older than policy's TTL.
func (st *memoryStream) trimLocked(policy HistoryPolicy, now time.Time) {
	for policy.TTL > 0 && st.n > 0 && now.Sub(st.at(0).when) >= policy.TTL {
		*st.at(0) = timedPublication{}
		st.head = (st.head + 1) % len(st.ring)
		st.n--
	}
}

// PublishHistory implements HistoryBroker: it appends m to topic's ring
// and delivers it to every connected hub subscribed to topic, this one's
// included, before it returns.
func (b *MemoryBroker) PublishHistory(ctx context.Context, topic string, m Message, policy HistoryPolicy) (Position, error) {
	if !policy.Enabled() {
		return Position{}, fmt.Errorf("hub: PublishHistory to %s without a history policy", topic)
	}
	now := b.bus.clock()
	st := b.bus.streams.lock(topic, policy, now)
	defer st.mu.Unlock()
	st.top++
	m.Data = slices.Clone(m.Data) // the ring keeps it; the caller's stays the caller's
	p := Publication{Message: m, Position: Position{Epoch: st.epoch, Offset: st.top}}
	st.pushLocked(timedPublication{p, now}, policy)
	st.trimLocked(policy, now)
	st.expires = now.Add(policy.EffectiveMetaTTL())

	b.bus.mu.RLock()
	subs := b.bus.subs[topic]
	b.bus.mu.RUnlock()
	for _, s := range subs {
		s.deliver.Deliver(topic, p)
	}
	return p.Position, nil
}

// History implements HistoryBroker.
func (b *MemoryBroker) History(ctx context.Context, topic string, since Position, policy HistoryPolicy) ([]Publication, Position, error) {
	now := b.bus.clock()
	st := b.bus.streams.lock(topic, policy, now)
	defer st.mu.Unlock()
	st.trimLocked(policy, now)
	top := Position{Epoch: st.epoch, Offset: st.top}
	if since.IsZero() {
		return nil, top, nil
	}
	if err := recoverable(since, top, st.oldestLocked()); err != nil {
		return nil, top, fmt.Errorf("%s: %w", topic, err)
	}
	var pubs []Publication
	for i := range st.n {
		if p := st.at(i).p; p.Position.Offset > since.Offset {
			pubs = append(pubs, p)
		}
	}
	return pubs, top, nil
}

// oldestLocked is the offset of the oldest publication kept; top+1 when
// none is.
func (st *memoryStream) oldestLocked() uint64 {
	if st.n == 0 {
		return st.top + 1
	}
	return st.at(0).p.Position.Offset
}

// recoverable tells whether every publication after since is still kept
// in a stream at top whose oldest kept publication is oldest (top+1 if it
// keeps none), and why not.
func recoverable(since, top Position, oldest uint64) error {
	switch {
	case since.Epoch != top.Epoch:
		return fmt.Errorf("%w: epoch %q, the stream's is %q", ErrUnrecoverable, since.Epoch, top.Epoch)
	case since.Offset > top.Offset:
		return fmt.Errorf("%w: offset %d is beyond the stream's top %d", ErrUnrecoverable, since.Offset, top.Offset)
	case oldest > since.Offset+1:
		return fmt.Errorf("%w: offsets %d to %d are no longer kept", ErrUnrecoverable, since.Offset+1, oldest-1)
	}
	return nil
}

// WaitSubscribed implements HistoryBroker: a memory broker subscribes
// synchronously, so it only checks that topic is subscribed.
func (b *MemoryBroker) WaitSubscribed(ctx context.Context, topic string) error {
	b.bus.mu.RLock()
	defer b.bus.mu.RUnlock()
	if !slices.ContainsFunc(b.bus.subs[topic], b.is) {
		return fmt.Errorf("hub: %s is not subscribed", topic)
	}
	return nil
}
