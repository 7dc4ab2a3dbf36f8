package hub

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryBroker is the broker of a hub that runs in one process, the
// default. On its own it carries nothing (the hub delivers to local members
// itself); brokers made together by NewMemoryBrokers connect several hubs
// in one process, as if each were a node, which serves tests and programs
// that run several Applications. It has no goroutines, is always up, and
// delivers synchronously, inside Publish.
//
// It is a HistoryBroker (a bounded ring per topic, in memory: a restart
// loses it, and the streams start new epochs) and a PresenceBroker (the
// entries of every connected hub, expiring as in Redis), shared by the
// brokers of one NewMemoryBrokers call as Redis is by nodes.
type MemoryBroker struct {
	bus     *memoryBus
	deliver Deliverer
}

// memoryBus is what connected memory brokers share: for each topic, the
// brokers subscribed to it. The slices are replaced, never modified, so
// Publish can deliver after dropping the lock (a deliver callback takes the
// hub's locks, and the hub holds them while it calls Subscribe).
type memoryBus struct {
	mu       sync.RWMutex
	subs     map[string][]memorySub
	presence memoryPresence
	streams  memoryStreams
	clock    func() time.Time // time.Now; tests move it
}

// memorySub is one subscribed broker and its hub's deliver callback.
type memorySub struct {
	b       *MemoryBroker
	deliver Deliverer
}

// NewMemoryBroker returns a broker for a hub alone in its process.
func NewMemoryBroker() *MemoryBroker { return NewMemoryBrokers(1)[0] }

// NewMemoryBrokers returns n brokers connected to each other: give each to
// its own hub, and a publish on one hub reaches the members of all.
func NewMemoryBrokers(n int) []*MemoryBroker {
	bus := &memoryBus{
		subs:     map[string][]memorySub{},
		presence: memoryPresence{topics: map[string]map[string]presenceEntry{}},
		streams:  memoryStreams{streams: map[string]*memoryStream{}},
		clock:    time.Now,
	}
	bs := make([]*MemoryBroker, n)
	for i := range bs {
		bs[i] = &MemoryBroker{bus: bus}
	}
	return bs
}

// Start implements Broker.
func (b *MemoryBroker) Start(deliver Deliverer) {
	b.bus.mu.Lock()
	b.deliver = deliver
	b.bus.mu.Unlock()
}

// Subscribe implements Broker.
func (b *MemoryBroker) Subscribe(topic string) {
	b.bus.mu.Lock()
	defer b.bus.mu.Unlock()
	subs := b.bus.subs[topic]
	if b.deliver != nil && !slices.ContainsFunc(subs, b.is) {
		b.bus.subs[topic] = append(slices.Clip(subs), memorySub{b, b.deliver})
	}
}

// Unsubscribe implements Broker.
func (b *MemoryBroker) Unsubscribe(topic string) {
	b.bus.mu.Lock()
	defer b.bus.mu.Unlock()
	subs := slices.DeleteFunc(slices.Clone(b.bus.subs[topic]), b.is)
	if len(subs) == 0 {
		delete(b.bus.subs, topic)
		return
	}
	b.bus.subs[topic] = subs
}

// Publish delivers m to the other brokers' hubs subscribed to topic before
// it returns.
func (b *MemoryBroker) Publish(ctx context.Context, topic string, m Message) error {
	b.bus.mu.RLock()
	subs := b.bus.subs[topic]
	b.bus.mu.RUnlock()
	for _, s := range subs {
		if s.b != b {
			s.deliver.Deliver(topic, Publication{Message: m})
		}
	}
	return nil
}

func (b *MemoryBroker) is(s memorySub) bool { return s.b == b }

// Health implements Broker: a memory broker is always up.
func (b *MemoryBroker) Health() Health { return Health{Up: true} }

// Close implements Broker; it has nothing to stop.
func (b *MemoryBroker) Close() error { return nil }

// A MemoryBroker serves every part of the broker contract.
var (
	_ HistoryBroker  = (*MemoryBroker)(nil)
	_ PresenceBroker = (*MemoryBroker)(nil)
)
