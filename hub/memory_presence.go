package hub

import (
	"context"
	"time"
)

// memoryPresence is the presence of the topics of connected memory
// brokers: for each topic, its entries and when each expires. Expired
// entries are dropped when their topic is read or written.
type memoryPresence struct {
	topics map[string]map[string]presenceEntry // guarded by memoryBus.mu
}

type presenceEntry struct {
	info    ClientInfo
	expires time.Time
}

// expireLocked drops topic's expired entries, and the topic when none is
// left; the caller holds the bus's write lock.
func (p *memoryPresence) expireLocked(topic string, now time.Time) map[string]presenceEntry {
	entries := p.topics[topic]
	for id, e := range entries {
		if !now.Before(e.expires) {
			delete(entries, id)
		}
	}
	if len(entries) == 0 {
		delete(p.topics, topic)
		return nil
	}
	return entries
}

// AddPresence implements PresenceBroker.
func (b *MemoryBroker) AddPresence(ctx context.Context, topic string, c ClientInfo, ttl time.Duration) error {
	now := b.bus.clock()
	b.bus.mu.Lock()
	defer b.bus.mu.Unlock()
	entries := b.bus.presence.expireLocked(topic, now)
	if entries == nil {
		entries = map[string]presenceEntry{}
		b.bus.presence.topics[topic] = entries
	}
	entries[c.ClientID] = presenceEntry{info: c, expires: now.Add(ttl)}
	return nil
}

// RemovePresence implements PresenceBroker.
func (b *MemoryBroker) RemovePresence(ctx context.Context, topic string, clientID string) error {
	b.bus.mu.Lock()
	defer b.bus.mu.Unlock()
	delete(b.bus.presence.topics[topic], clientID)
	b.bus.presence.expireLocked(topic, b.bus.clock())
	return nil
}

// Presence implements PresenceBroker.
func (b *MemoryBroker) Presence(ctx context.Context, topic string) ([]ClientInfo, error) {
	now := b.bus.clock()
	b.bus.mu.Lock()
	defer b.bus.mu.Unlock()
	entries := b.bus.presence.expireLocked(topic, now)
	infos := make([]ClientInfo, 0, len(entries))
	for _, e := range entries {
		infos = append(infos, e.info)
	}
	return infos, nil
}

// PublishPresence implements PresenceBroker: it hands e to the other
// connected hubs subscribed to topic before it returns.
func (b *MemoryBroker) PublishPresence(ctx context.Context, topic string, e PresenceEvent) error {
	b.bus.mu.RLock()
	subs := b.bus.subs[topic]
	b.bus.mu.RUnlock()
	for _, s := range subs {
		if s.b != b {
			s.deliver.DeliverPresence(topic, e)
		}
	}
	return nil
}
