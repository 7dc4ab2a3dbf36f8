// Package redisbroker connects the hubs of several processes through Redis
// pub/sub, so that a message published to a room on one process reaches
// the room's members on all of them:
//
//	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	rooms := hub.New(hub.WithBroker(redisbroker.New(client)))
//	defer client.Close()
//	defer rooms.Close()
//
// Each room (and user) with members on a process is one Redis channel
// (prefix + "room:" + name) that the process SUBSCRIBEs to while it has
// members there; a publish is one PUBLISH. The message carries the
// publishing process's random node id, so a process skips its own
// publishes (the hub has already delivered them locally): every member gets
// each message once. Publishes made one after another reach every process
// in that order (Redis pub/sub keeps the order of one connection's
// commands, and PUBLISH returns only once Redis has sent the message on).
//
// # When Redis goes away
//
// Delivery on each process goes on. Publishes fail at once with an error
// matching ErrUnavailable (and hub.ErrLocalOnly): the message reached the
// local members only, and nothing is buffered to be sent later. Messages
// other processes manage to publish meanwhile do not arrive here. The
// broker logs the loss (slog, Warn), reports it in Health, reconnects
// with exponential backoff (50 ms doubling up to 5 s, with jitter by
// default), subscribes again to every channel it needs, and logs when it is
// back (Info, with how long it was down). Redis pub/sub keeps no history,
// so what was published during the outage is not replayed: an application
// that must not miss anything should refetch its state when Health's
// Outages count grows.
//
// Publishes that race the detection of an outage go to the client, whose
// own timeouts and retries (redis.Options DialTimeout, MaxRetries) and the
// context bound them.
package redisbroker

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tornago/tornago/hub"
)

// ErrUnavailable is matched by the error of a publish made while the
// broker has no connection to Redis.
var ErrUnavailable = errors.New("redisbroker: Redis unavailable")

// Broker is a hub.Broker over Redis pub/sub. It serves one hub.
type Broker struct {
	client   redis.UniversalClient
	prefix   string
	logger   *slog.Logger
	minDelay time.Duration
	maxDelay time.Duration
	ping     time.Duration
	node     [nodeIDLen]byte

	up     atomic.Bool
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{} // a topic was added or removed

	mu      sync.Mutex
	deliver hub.Deliverer
	topics  map[string]struct{} // the channels the hub needs, without prefix
	pending map[string]bool     // changes since the syncer last looked: true to subscribe
	ps      *redis.PubSub       // the current session's subscription connection
	closed  bool
	health  hub.Health
	everUp  bool
}

// Option configures a Broker.
type Option func(*Broker)

// WithPrefix sets the prefix of the Redis channel names, "tornago:hub:" by
// default. Applications that share a Redis server need different ones.
func WithPrefix(prefix string) Option { return func(b *Broker) { b.prefix = prefix } }

// WithLogger sets the logger for losing and regaining Redis; the default
// is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(b *Broker) { b.logger = l } }

// WithBackoff sets the first and the longest wait between reconnection
// attempts (50 ms and 5 s by default); each failed attempt doubles it.
func WithBackoff(first, longest time.Duration) Option {
	return func(b *Broker) { b.minDelay, b.maxDelay = first, max(first, longest) }
}

// WithPingInterval sets how long the subscription connection may stay
// quiet before the broker pings Redis; a ping unanswered for as long again
// counts as a lost connection. The default is 5 s. (A Redis that dies
// closes the connection, which is noticed at once; the ping finds a
// network that silently stopped carrying packets.)
func WithPingInterval(d time.Duration) Option { return func(b *Broker) { b.ping = d } }

// New returns a broker that talks to Redis through client. Give it to
// hub.New with hub.WithBroker; Hub.Close closes the broker, not the
// client, which the caller still owns.
func New(client redis.UniversalClient, opts ...Option) *Broker {
	b := &Broker{
		client:   client,
		prefix:   "tornago:hub:",
		logger:   slog.Default(),
		minDelay: 50 * time.Millisecond,
		maxDelay: 5 * time.Second,
		ping:     5 * time.Second,
		done:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
		topics:   map[string]struct{}{},
		pending:  map[string]bool{},
		health:   hub.Health{Err: errors.New("not connected yet")},
	}
	for _, o := range opts {
		o(b)
	}
	_, _ = crand.Read(b.node[:])
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b
}

// Start implements hub.Broker: it connects in the background. It panics
// if called twice, since a broker serves one hub.
func (b *Broker) Start(d hub.Deliverer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.deliver != nil {
		panic("redisbroker: Start called twice; a Broker serves one hub")
	}
	b.deliver = d
	go b.run()
}

// Subscribe implements hub.Broker; the subscription is made in the
// background.
func (b *Broker) Subscribe(topic string) {
	b.mu.Lock()
	b.topics[topic] = struct{}{}
	b.pending[topic] = true
	b.mu.Unlock()
	b.signal()
}

// Unsubscribe implements hub.Broker.
func (b *Broker) Unsubscribe(topic string) {
	b.mu.Lock()
	delete(b.topics, topic)
	b.pending[topic] = false
	b.mu.Unlock()
	b.signal()
}

func (b *Broker) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Publish implements hub.Broker with one PUBLISH. While the broker knows
// Redis to be unreachable it fails at once with ErrUnavailable.
func (b *Broker) Publish(ctx context.Context, topic string, m hub.Message) error {
	if !b.up.Load() {
		b.mu.Lock()
		cause := b.health.Err
		b.mu.Unlock()
		return fmt.Errorf("%w: %w", ErrUnavailable, cause)
	}
	if err := b.client.Publish(ctx, b.prefix+topic, encode(b.node, m)).Err(); err != nil {
		return fmt.Errorf("redisbroker: PUBLISH: %w", err)
	}
	return nil
}

// Health implements hub.Broker.
func (b *Broker) Health() hub.Health {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.health
}

// Close implements hub.Broker: it ends the subscription and waits for the
// broker's goroutines. It does not close the client.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	started := b.deliver != nil
	ps := b.ps
	b.mu.Unlock()
	b.cancel()
	if ps != nil {
		_ = ps.Close()
	}
	if started {
		<-b.done
	}
	b.up.Store(false)
	return nil
}

// run connects, serves the subscription until the connection fails, and
// connects again after a backoff, until Close.
func (b *Broker) run() {
	defer close(b.done)
	delay := b.minDelay
	for {
		connected, err := b.session()
		if b.ctx.Err() != nil {
			return
		}
		b.setDown(err)
		if connected {
			delay = b.minDelay
		}
		// Full jitter over the upper half keeps restarted nodes apart.
		wait := delay/2 + rand.N(delay/2+1)
		t := time.NewTimer(wait)
		select {
		case <-b.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, b.maxDelay)
	}
}

// session runs one subscription connection: it connects, proves Redis
// answers, subscribes to every topic and receives until the connection
// fails. connected reports whether it got that far.
func (b *Broker) session() (connected bool, err error) {
	ps := b.client.Subscribe(b.ctx) // no channels: connects on first use
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		_ = ps.Close()
		return false, nil
	}
	b.ps = ps
	b.mu.Unlock()
	stop := make(chan struct{})
	var syncer sync.WaitGroup
	defer func() {
		b.mu.Lock()
		b.ps = nil
		b.mu.Unlock()
		_ = ps.Close() // unblocks the syncer's writes
		close(stop)
		syncer.Wait()
	}()

	if err := ps.Ping(b.ctx); err != nil {
		return false, err
	}
	if err := b.awaitPong(ps); err != nil {
		return false, err
	}
	b.setUp()
	syncer.Go(func() { b.syncTopics(ps, stop) })

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
		if m, ok := msg.(*redis.Message); ok {
			b.handle(m)
		}
	}
}

// awaitPong reads until the answer to the first ping.
func (b *Broker) awaitPong(ps *redis.PubSub) error {
	for {
		msg, err := ps.ReceiveTimeout(b.ctx, b.ping)
		if err != nil {
			return err
		}
		if _, ok := msg.(*redis.Pong); ok {
			return nil
		}
	}
}

// syncTopics makes the connection's subscriptions follow the hub's
// topics: all of them when the session starts, then each change. Commands
// go in batches; an error ends it (the receiving side sees the broken
// connection and starts a new session, which subscribes everything again).
func (b *Broker) syncTopics(ps *redis.PubSub, stop <-chan struct{}) {
	b.mu.Lock()
	subscribe := make([]string, 0, len(b.topics))
	for t := range b.topics {
		subscribe = append(subscribe, b.prefix+t)
	}
	clear(b.pending)
	b.mu.Unlock()
	var unsubscribe []string
	for {
		if err := b.send(ps.Subscribe, subscribe); err != nil {
			return
		}
		if err := b.send(ps.Unsubscribe, unsubscribe); err != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-b.wake:
		}
		subscribe, unsubscribe = subscribe[:0], unsubscribe[:0]
		b.mu.Lock()
		for t, sub := range b.pending {
			if sub {
				subscribe = append(subscribe, b.prefix+t)
			} else {
				unsubscribe = append(unsubscribe, b.prefix+t)
			}
		}
		clear(b.pending)
		b.mu.Unlock()
	}
}

// maxBatch bounds the channels of one SUBSCRIBE or UNSUBSCRIBE command.
const maxBatch = 1000

func (b *Broker) send(cmd func(context.Context, ...string) error, channels []string) error {
	for len(channels) > 0 {
		n := min(len(channels), maxBatch)
		if err := cmd(b.ctx, channels[:n]...); err != nil {
			return err
		}
		channels = channels[n:]
	}
	return nil
}

// handle delivers a message from another node to the hub.
func (b *Broker) handle(m *redis.Message) {
	topic, ok := strings.CutPrefix(m.Channel, b.prefix)
	if !ok {
		return
	}
	node, msg, ok := decode(m.Payload)
	if !ok {
		b.logger.Warn("redisbroker: dropped a message in an unknown format", "channel", m.Channel)
		return
	}
	if node == b.node {
		return // ours: the hub delivered it locally already
	}
	b.deliver.Deliver(topic, hub.Publication{Message: msg})
}

func (b *Broker) setUp() {
	b.mu.Lock()
	defer b.mu.Unlock()
	down := time.Since(b.health.Since)
	b.health.Up, b.health.Err, b.health.Since = true, nil, time.Now()
	b.up.Store(true)
	if !b.everUp {
		b.everUp = true
		b.logger.Info("redisbroker: connected to Redis")
		return
	}
	b.logger.Info("redisbroker: Redis connection restored; messages published by other nodes while it was down were not received here",
		"down_for", down.Round(time.Millisecond), "outages", b.health.Outages)
}

func (b *Broker) setDown(err error) {
	if err == nil {
		err = errors.New("connection closed")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.health.Err = err
	if !b.health.Up {
		if b.health.Since.IsZero() {
			b.health.Since = time.Now()
			b.logger.Warn("redisbroker: cannot reach Redis; retrying", "error", err)
		}
		return
	}
	b.up.Store(false)
	b.health.Up, b.health.Since = false, time.Now()
	b.health.Outages++
	b.logger.Warn("redisbroker: Redis connection lost; publishes reach this node only until it is back",
		"error", err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
