package redisbroker

import (
	"context"
	crand "crypto/rand"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tornago/tornago/hub"
)

// ErrUnavailable is matched by the error of a publish made while the
// broker has no connection to Redis, or cut short because it lost it.
var ErrUnavailable = errors.New("redisbroker: Redis unavailable")

// Broker is a hub.Broker over Redis pub/sub. It serves one hub.
type Broker struct {
	client    redis.UniversalClient
	cluster   bool // sharded pub/sub on a Redis Cluster
	prefix    string
	logger    *slog.Logger
	minDelay  time.Duration
	maxDelay  time.Duration
	ping      time.Duration
	numShards int
	node      [nodeIDLen]byte

	ctx    context.Context
	cancel context.CancelFunc
	shards []*shard
	wg     sync.WaitGroup

	mu      sync.Mutex
	deliver hub.Deliverer
	topics  map[string]struct{} // the topics the hub needs
	closed  bool
	health  hub.Health
	everUp  bool
	down    int // shards not up
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

// WithPingInterval sets how long a subscription connection may stay quiet
// before the broker pings Redis; a ping unanswered for as long again
// counts as a lost connection, as does a subscription Redis does not
// confirm within it. The default is 5 s. (A Redis that dies closes the
// connection, which is noticed at once; the ping finds a network that
// silently stopped carrying packets.)
func WithPingInterval(d time.Duration) Option { return func(b *Broker) { b.ping = d } }

// WithClusterShards sets how many shards, each one subscription
// connection and one hash slot, a broker on a Redis Cluster spreads its
// topics over: 16 by default. Every process sharing the cluster and the
// prefix must use the same number. It is ignored on a single Redis.
func WithClusterShards(n int) Option { return func(b *Broker) { b.numShards = max(n, 1) } }

// New returns a broker that talks to Redis through client: a Redis Cluster
// when client is a *redis.ClusterClient (what redis.NewUniversalClient
// returns for several addresses), a single server otherwise. Give it to
// hub.New with hub.WithBroker; Hub.Close closes the broker, not the
// client, which the caller still owns.
func New(client redis.UniversalClient, opts ...Option) *Broker {
	_, cluster := client.(*redis.ClusterClient)
	b := &Broker{
		client:    client,
		cluster:   cluster,
		prefix:    "tornago:hub:",
		logger:    slog.Default(),
		minDelay:  50 * time.Millisecond,
		maxDelay:  5 * time.Second,
		ping:      5 * time.Second,
		numShards: 16,
		topics:    map[string]struct{}{},
		health:    hub.Health{Err: errors.New("not connected yet")},
	}
	for _, o := range opts {
		o(b)
	}
	if !b.cluster {
		b.numShards = 1
	}
	_, _ = crand.Read(b.node[:])
	b.ctx, b.cancel = context.WithCancel(context.Background())
	for i := range b.numShards {
		b.shards = append(b.shards, newShard(b, i))
	}
	b.down = len(b.shards)
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
	if b.closed {
		return
	}
	for _, s := range b.shards {
		b.wg.Go(s.run)
	}
}

// Subscribe implements hub.Broker; the subscription is made in the
// background.
func (b *Broker) Subscribe(topic string) {
	s := b.shardOf(topic)
	b.mu.Lock()
	b.topics[topic] = struct{}{}
	s.pending[topic] = true
	b.mu.Unlock()
	s.signal()
}

// Unsubscribe implements hub.Broker.
func (b *Broker) Unsubscribe(topic string) {
	s := b.shardOf(topic)
	b.mu.Lock()
	delete(b.topics, topic)
	s.pending[topic] = false
	delete(s.confirmed, topic) // a new Subscribe waits for a new confirmation
	s.notifyLocked()
	b.mu.Unlock()
	s.signal()
}

// Publish implements hub.Broker with one PUBLISH (SPUBLISH on a cluster),
// sent once (see noRetry). While the broker knows the topic's Redis node
// to be unreachable it fails at once with ErrUnavailable.
func (b *Broker) Publish(ctx context.Context, topic string, m hub.Message) error {
	return b.publish(ctx, topic, encode(b.node, m))
}

func (b *Broker) publish(ctx context.Context, topic string, payload []byte) error {
	s := b.shardOf(topic)
	live, err := s.liveContext()
	if err != nil {
		return err
	}
	ctx, stop := untilLost(ctx, live)
	defer stop()
	cmd := "publish"
	if b.cluster {
		cmd = "spublish"
	}
	c := redis.NewCmd(ctx, cmd, s.channel(topic), payload)
	if err = b.client.Process(ctx, noRetry{c}); err != nil {
		return s.failed(live, "PUBLISH", err)
	}
	return nil
}

// untilLost returns ctx, ended also when live is (the shard lost its
// connection): the client's dial attempts and waits for a pooled
// connection, which follow the context, then stop at once instead of
// going through their own retries.
func untilLost(ctx, live context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(live, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// Health implements hub.Broker: Up while every shard's subscriptions are
// in place.
func (b *Broker) Health() hub.Health {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.health
}

// Close implements hub.Broker: it ends the subscriptions and waits for the
// broker's goroutines. It does not close the client.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	var open []*redis.PubSub
	for _, s := range b.shards {
		if s.ps != nil {
			open = append(open, s.ps)
		}
	}
	b.mu.Unlock()
	b.cancel()
	for _, ps := range open {
		_ = ps.Close()
	}
	b.wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.shards {
		if l := s.live.Swap(nil); l != nil {
			l.cancel(errClosed)
		}
		s.err = errClosed
	}
	return nil
}

var errClosed = errors.New("broker closed")
