package hub

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPresenceTTL is WithPresenceTTL's default.
const DefaultPresenceTTL = 30 * time.Second

// presenceOpTimeout bounds each broker call the presence worker makes.
const presenceOpTimeout = 5 * time.Second

// WithPresenceTTL sets how long a member's presence entry outlives its
// node: the hub refreshes its members' entries every ttl/3, so the entries
// of a node that dies without removing them (kill -9, a lost network)
// vanish from ClusterPresence within ttl. The default is
// DefaultPresenceTTL (30 s); values under a second are raised to a second.
func WithPresenceTTL(ttl time.Duration) Option {
	return func(h *Hub) { h.presence.ttl = max(ttl, time.Second) }
}

// presence is a hub's share of cluster-wide presence: the entries of its
// own members, refreshed and removed by one goroutine, started by the
// first member joined with presence and stopped by Close.
type presence struct {
	ttl  time.Duration
	node string // this hub's part of the client ids it makes

	used atomic.Bool // an entry was ever added: leaves must look

	mu      sync.Mutex
	next    uint64
	entries map[string]map[Member]ClientInfo // topic -> member -> entry
	leaves  []presenceLeave                  // removals for the worker
	started bool
	closed  bool
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

// presenceLeave is a member's entry to remove and announce.
type presenceLeave struct {
	topic, room string
	info        ClientInfo
}

func newPresence() presence {
	return presence{
		ttl:     DefaultPresenceTTL,
		node:    rand.Text()[:10],
		entries: map[string]map[Member]ClientInfo{},
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// errNoPresence is the error of presence with a broker that keeps none.
var errNoPresence = errors.New("hub: the broker keeps no presence")

// addPresence records m's entry in topic (named room): in the broker,
// announced to the room's watchers here and on other nodes. It fills in
// the entry's ClientID if empty and returns the entry.
func (h *Hub) addPresence(ctx context.Context, topic, room string, m Member, info ClientInfo) (ClientInfo, error) {
	pb, ok := h.broker.(PresenceBroker)
	if !ok {
		return info, errNoPresence
	}
	if len(info.Info) > MaxPresenceInfo {
		return info, fmt.Errorf("hub: presence info of %d bytes, at most %d", len(info.Info), MaxPresenceInfo)
	}
	p := &h.presence
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return info, errors.New("hub: closed")
	}
	if info.ClientID == "" {
		p.next++
		info.ClientID = p.node + "-" + strconv.FormatUint(p.next, 10)
	}
	if !p.started {
		p.started = true
		p.used.Store(true)
		go h.presenceWorker()
	}
	// Recorded here first, so that a leave from now on removes it (and a
	// failed add is retried by the refresh).
	if p.entries[topic] == nil {
		p.entries[topic] = map[Member]ClientInfo{}
	}
	p.entries[topic][m] = info
	p.mu.Unlock()
	if !h.isMember(topic, m) {
		// m left before its entry was recorded: its leave found none.
		h.dropPresence(topic, m)
		return info, errors.New("hub: the member left during the join")
	}
	if err := pb.AddPresence(ctx, topic, info, p.ttl); err != nil {
		return info, fmt.Errorf("hub: recording presence in %s: %w", topic, err)
	}
	e := PresenceEvent{Client: info}
	h.fanoutPresence(topic, room, e, m)
	if err := pb.PublishPresence(ctx, topic, e); err != nil {
		return info, fmt.Errorf("hub: announcing a join to %s: %w", topic, err)
	}
	return info, nil
}

// dropPresence queues the removal of m's entry in topic, if it has one;
// the caller may hold the hub's locks, so the worker does the rest.
func (h *Hub) dropPresence(topic string, m Member) {
	p := &h.presence
	if !p.used.Load() {
		return // no lock on the leave path of a hub without presence
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	info, ok := p.entries[topic][m]
	if !ok {
		return
	}
	delete(p.entries[topic], m)
	if len(p.entries[topic]) == 0 {
		delete(p.entries, topic)
	}
	if p.closed {
		return // no worker any more: the entry expires within the TTL
	}
	room := topic[len(roomPrefix):]
	p.leaves = append(p.leaves, presenceLeave{topic, room, info})
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// presenceWorker removes and announces the entries of members that left,
// and refreshes the others every ttl/3, until Close.
func (h *Hub) presenceWorker() {
	p := &h.presence
	defer close(p.done)
	refresh := time.NewTicker(p.ttl / 3)
	defer refresh.Stop()
	for {
		select {
		case <-p.stop:
			h.removeLeft()
			return
		case <-p.wake:
			h.removeLeft()
		case <-refresh.C:
			h.refreshPresence()
		}
	}
}

// removeLeft removes and announces the entries queued by dropPresence.
func (h *Hub) removeLeft() {
	p := &h.presence
	p.mu.Lock()
	leaves := p.leaves
	p.leaves = nil
	p.mu.Unlock()
	pb := h.broker.(PresenceBroker) // entries exist only with one
	for _, l := range leaves {
		e := PresenceEvent{Leave: true, Client: l.info}
		h.fanoutPresence(l.topic, l.room, e, nil)
		ctx, cancel := context.WithTimeout(context.Background(), presenceOpTimeout)
		// A failure leaves the entry to expire within the TTL.
		_ = pb.RemovePresence(ctx, l.topic, l.info.ClientID)
		_ = pb.PublishPresence(ctx, l.topic, e)
		cancel()
	}
}

// refreshPresence renews the entries of this hub's members.
func (h *Hub) refreshPresence() {
	p := &h.presence
	type entry struct {
		topic string
		info  ClientInfo
	}
	p.mu.Lock()
	var all []entry
	for topic, ms := range p.entries {
		for _, info := range ms {
			all = append(all, entry{topic, info})
		}
	}
	p.mu.Unlock()
	pb := h.broker.(PresenceBroker)
	for _, e := range all {
		ctx, cancel := context.WithTimeout(context.Background(), presenceOpTimeout)
		// A failure is retried at the next refresh, well within the TTL.
		_ = pb.AddPresence(ctx, e.topic, e.info, p.ttl)
		cancel()
	}
}

// closePresence stops the worker after it removed the entries of the
// members that left.
func (h *Hub) closePresence() {
	p := &h.presence
	p.mu.Lock()
	started := p.started && !p.closed
	p.closed = true
	p.mu.Unlock()
	if started {
		close(p.stop)
		<-p.done
	}
}

// fanoutPresence sends e to the members of topic here that watch its
// presence, but not to skip.
func (h *Hub) fanoutPresence(name, room string, e PresenceEvent, skip Member) {
	pm, err := prepare(presenceFrame(room, e), false)
	if err != nil {
		return
	}
	h.withTopic(name, func(t *topic) []Member {
		if len(t.watchers) == 0 {
			return nil
		}
		return writeAll(t.members, pm, func(m Member) bool {
			_, watches := t.watchers[m]
			return m == skip || !watches
		})
	})
}

// ClusterPresence returns who is in room on every node: the entries of
// the members that joined it with JoinOptions.Presence, as the broker
// keeps them (those of a node that died stay for at most the presence
// TTL). Presence, by contrast, counts this node's members, without asking
// the broker.
func (h *Hub) ClusterPresence(ctx context.Context, room string) ([]ClientInfo, error) {
	pb, ok := h.broker.(PresenceBroker)
	if !ok {
		return nil, errNoPresence
	}
	return pb.Presence(ctx, roomTopic(room))
}
