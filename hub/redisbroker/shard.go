package redisbroker

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// A shard is one subscription connection and the topics it carries: the
// only one on a single Redis; on a Redis Cluster, one of WithClusterShards,
// connected to the node that owns its hash slot.
type shard struct {
	b *Broker
	// names is the prefix of the shard's channel names: the broker's
	// prefix, followed on a cluster by the shard's hash tag, "{N}".
	names string
	wake  chan struct{} // a topic was added or removed
	// live is ended (with the error) when the shard loses its connection;
	// nil while it is down. Publishes in flight watch it.
	live atomic.Pointer[liveContext]

	// Guarded by b.mu.
	pending   map[string]bool          // changes since the syncer last looked: true to subscribe
	leaving   map[string]int           // unsubscribes sent and not yet confirmed
	confirmed map[string]struct{}      // topics Redis confirmed on this session's connection
	markers   map[string]chan struct{} // History's markers on their way back
	changed   chan struct{}            // closed and replaced when up or confirmed change
	ps        *redis.PubSub            // the current session's connection
	up        bool
	tried     bool  // a connection attempt failed or a connection was lost
	err       error // why the shard is down
}

type liveContext struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func newShard(b *Broker, i int) *shard {
	s := &shard{b: b, names: b.prefix, wake: make(chan struct{}, 1),
		pending: map[string]bool{}, leaving: map[string]int{}, confirmed: map[string]struct{}{},
		markers: map[string]chan struct{}{},
		changed: make(chan struct{}), err: errors.New("not connected yet")}
	if b.cluster {
		s.names += "{" + strconv.Itoa(i) + "}"
	}
	return s
}

// shardOf returns the shard that carries topic; every process maps a
// topic to the same shard.
func (b *Broker) shardOf(topic string) *shard {
	if len(b.shards) == 1 {
		return b.shards[0]
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(topic))
	return b.shards[h.Sum32()%uint32(len(b.shards))]
}

// channel is the Redis channel of topic.
func (s *shard) channel(topic string) string { return s.names + topic }

func (s *shard) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// liveContext returns the context of the shard's current connection, or
// ErrUnavailable when it lost it. While the shard is still making its
// first connection, commands are tried (the client connects on its own):
// it returns the broker's context then.
func (s *shard) liveContext() (context.Context, error) {
	if l := s.live.Load(); l != nil {
		return l.ctx, nil
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if !s.tried {
		return s.b.ctx, nil
	}
	return nil, fmt.Errorf("%w: %w", ErrUnavailable, s.err)
}

// failed wraps the error of a command sent on the shard's behalf: in
// ErrUnavailable when live ended (the shard lost its connection) or the
// shard has no connection yet.
func (s *shard) failed(live context.Context, what string, err error) error {
	if live.Err() != nil {
		return fmt.Errorf("%w: lost during %s: %w", ErrUnavailable, what, context.Cause(live))
	}
	if s.live.Load() == nil {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}
	return fmt.Errorf("redisbroker: %s: %w", what, err)
}

// run connects, serves the subscription until the connection fails, and
// connects again after a backoff, until Close.
func (s *shard) run() {
	b := s.b
	delay := b.minDelay
	for {
		connected, err := s.session()
		if b.ctx.Err() != nil {
			return
		}
		b.setDown(s, err)
		if connected {
			delay = b.minDelay
		}
		if c, ok := b.client.(*redis.ClusterClient); ok {
			c.ReloadState(b.ctx) // the slot may have another owner now
		}
		// Full jitter over the upper half keeps restarted nodes apart.
		if !sleep(b.ctx, delay/2+rand.N(delay/2+1)) {
			return
		}
		delay = min(delay*2, b.maxDelay)
	}
}

// session runs one subscription connection: it connects, proves Redis
// answers, subscribes to every topic of the shard, waits until Redis has
// confirmed them all, and only then reports the shard up; it then
// receives until the connection fails. connected reports whether it got
// that far.
func (s *shard) session() (connected bool, err error) {
	b := s.b
	var ps *redis.PubSub
	if b.cluster {
		// The shard's own name, which no one publishes to, routes the
		// connection to the node that owns the shard's slot.
		ps = b.client.SSubscribe(b.ctx, s.names)
	} else {
		ps = b.client.Subscribe(b.ctx) // no channels: connects on first use
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		_ = ps.Close()
		return false, nil
	}
	s.ps = ps
	b.mu.Unlock()
	stop := make(chan struct{})
	var syncer sync.WaitGroup
	defer func() {
		b.mu.Lock()
		s.ps = nil
		clear(s.leaving)
		clear(s.confirmed)
		s.notifyLocked()
		b.mu.Unlock()
		_ = ps.Close() // unblocks the syncer's writes
		close(stop)
		syncer.Wait()
	}()

	if err := ps.Ping(b.ctx); err != nil {
		return false, err
	}
	if err := s.await(ps, nil); err != nil {
		return false, err
	}
	if err := s.subscribeAll(ps); err != nil {
		return false, err
	}
	b.setUp(s)
	syncer.Go(func() { s.syncTopics(ps, stop) })

	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(b.ctx, b.ping)
		if err != nil {
			if !isTimeout(err) {
				return true, err
			}
			if pinged {
				return true, fmt.Errorf("redisbroker: no answer to a ping within %v", b.ping)
			}
			if err := ps.Ping(b.ctx); err != nil {
				return true, err
			}
			pinged = true
			continue
		}
		pinged = false
		if err := s.receive(msg); err != nil {
			return true, err
		}
	}
}

// subscribeAll subscribes to every topic of the shard the hub needs now
// and waits for Redis to confirm each.
func (s *shard) subscribeAll(ps *redis.PubSub) error {
	b := s.b
	b.mu.Lock()
	var channels []string
	for t := range b.topics {
		if b.shardOf(t) == s {
			channels = append(channels, s.channel(t))
		}
	}
	clear(s.pending)
	b.mu.Unlock()
	if err := s.send(s.subscribeCmd(ps), channels); err != nil {
		return err
	}
	want := make(map[string]struct{}, len(channels))
	for _, c := range channels {
		want[c] = struct{}{}
	}
	return s.await(ps, want)
}

// await reads until Redis has confirmed the subscription to every channel
// in want, or, when want is nil, until the answer to a ping. Messages that
// arrive meanwhile are delivered.
func (s *shard) await(ps *redis.PubSub, want map[string]struct{}) error {
	for want == nil || len(want) > 0 {
		msg, err := ps.ReceiveTimeout(s.b.ctx, s.b.ping)
		if err != nil {
			if isTimeout(err) {
				return fmt.Errorf("redisbroker: Redis did not answer within %v", s.b.ping)
			}
			return err
		}
		switch m := msg.(type) {
		case *redis.Pong:
			if want == nil {
				return nil
			}
		case *redis.Subscription:
			delete(want, m.Channel)
			if err := s.subscription(m); err != nil {
				return err
			}
		case *redis.Message:
			s.handle(m)
		}
	}
	return nil
}

// notifyLocked wakes WaitSubscribed's waiters; the caller holds b.mu.
func (s *shard) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// receive handles what the connection brought.
func (s *shard) receive(msg any) error {
	switch m := msg.(type) {
	case *redis.Message:
		s.handle(m)
	case *redis.Subscription:
		return s.subscription(m)
	}
	return nil
}

// subscription records Redis's confirmation of a subscription or an
// unsubscription. An unsubscription that the broker did not ask for,
// which Redis Cluster sends when the channel's slot moved to another
// node, ends the session so that the next one subscribes on the slot's
// new owner.
func (s *shard) subscription(m *redis.Subscription) error {
	b := s.b
	topic, ours := strings.CutPrefix(m.Channel, s.names)
	b.mu.Lock()
	defer b.mu.Unlock()
	switch m.Kind {
	case "subscribe", "ssubscribe":
		// Not while an unsubscription sent after it is pending: that
		// will undo it.
		if ours && topic != "" && s.leaving[m.Channel] == 0 {
			s.confirmed[topic] = struct{}{}
			s.notifyLocked()
		}
		return nil
	case "unsubscribe", "sunsubscribe":
	default:
		return nil
	}
	delete(s.confirmed, topic)
	if s.leaving[m.Channel] > 0 {
		if s.leaving[m.Channel]--; s.leaving[m.Channel] == 0 {
			delete(s.leaving, m.Channel)
		}
		return nil
	}
	if m.Channel == s.names {
		return fmt.Errorf("redisbroker: Redis unsubscribed the shard's connection from %s (its slot moved?)", m.Channel)
	}
	if _, wanted := b.topics[topic]; ours && wanted {
		return fmt.Errorf("redisbroker: Redis unsubscribed %s (its slot moved?)", m.Channel)
	}
	return nil
}

// syncTopics makes the connection's subscriptions follow the hub's
// topics after the session's start. Commands go in batches; an error ends
// it (the receiving side sees the broken connection and starts a new
// session, which subscribes everything again).
func (s *shard) syncTopics(ps *redis.PubSub, stop <-chan struct{}) {
	b := s.b
	var subscribe, unsubscribe []string
	for {
		select {
		case <-stop:
			return
		case <-s.wake:
		}
		subscribe, unsubscribe = subscribe[:0], unsubscribe[:0]
		b.mu.Lock()
		for t, sub := range s.pending {
			if sub {
				subscribe = append(subscribe, s.channel(t))
			} else {
				unsubscribe = append(unsubscribe, s.channel(t))
				s.leaving[s.channel(t)]++
			}
		}
		clear(s.pending)
		b.mu.Unlock()
		if err := s.send(s.subscribeCmd(ps), subscribe); err != nil {
			return
		}
		if err := s.send(s.unsubscribeCmd(ps), unsubscribe); err != nil {
			return
		}
	}
}

func (s *shard) subscribeCmd(ps *redis.PubSub) func(context.Context, ...string) error {
	if s.b.cluster {
		return ps.SSubscribe
	}
	return ps.Subscribe
}

func (s *shard) unsubscribeCmd(ps *redis.PubSub) func(context.Context, ...string) error {
	if s.b.cluster {
		return ps.SUnsubscribe
	}
	return ps.Unsubscribe
}

// maxBatch bounds the channels of one (S)SUBSCRIBE or (S)UNSUBSCRIBE
// command.
const maxBatch = 1000

func (s *shard) send(cmd func(context.Context, ...string) error, channels []string) error {
	for len(channels) > 0 {
		n := min(len(channels), maxBatch)
		if err := cmd(s.b.ctx, channels[:n]...); err != nil {
			return err
		}
		channels = channels[n:]
	}
	return nil
}

// handle delivers a message from another node to the hub.
func (s *shard) handle(m *redis.Message) {
	topic, ok := strings.CutPrefix(m.Channel, s.names)
	if !ok {
		return
	}
	e, ok := decode(m.Payload)
	if !ok {
		s.b.logger.Warn("redisbroker: dropped a message in an unknown format", "channel", m.Channel)
		return
	}
	switch {
	case e.kind == kindMarker:
		if e.node == s.b.node {
			s.markerBack(e.marker)
		}
	case e.kind == kindPublication:
		// Every node's, ours too: the hub delivers publications with a
		// position only as they come back, in offset order.
		s.b.deliver.Deliver(topic, e.pub)
	case e.node == s.b.node:
		// A plain message or presence event of ours: the hub delivered it
		// locally already.
	case e.kind == kindPresence:
		s.b.deliver.DeliverPresence(topic, e.presence)
	default:
		s.b.deliver.Deliver(topic, e.pub)
	}
}

// newMarker returns a marker for History to publish and the channel closed
// when it comes back, when this node's subscription to topic is in place;
// "" and nil otherwise (nothing of topic reaches this node, so there is
// nothing to wait for).
func (s *shard) newMarker(topic string) (string, chan struct{}) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if _, ok := s.confirmed[topic]; !ok || !s.up {
		return "", nil
	}
	id := crand.Text()
	ch := make(chan struct{})
	s.markers[id] = ch
	return string(header(kindMarker, s.b.node, false)) + id, ch
}

// dropMarker forgets a marker, back or not.
func (s *shard) dropMarker(marker string) {
	if marker == "" {
		return
	}
	s.b.mu.Lock()
	delete(s.markers, marker[headerLen:])
	s.b.mu.Unlock()
}

// markerBack wakes the History call waiting for id.
func (s *shard) markerBack(id string) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if ch, ok := s.markers[id]; ok {
		close(ch)
		delete(s.markers, id)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
