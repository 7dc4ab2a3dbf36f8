package redisbroker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/hub/redisbroker"
	"github.com/tornago/tornago/internal/testenv"
)

// addrEnv names the variable holding the address of the Redis server the
// tests use, clusterEnv the comma-separated addresses of the Redis
// Cluster's masters (.ci/run starts both with ci-start-redis.sh).
const (
	addrEnv    = "TORNAGO_REDIS_ADDR"
	clusterEnv = "TORNAGO_REDIS_CLUSTER_ADDRS"
)

// redisAddr returns the shared Redis server's address, or skips the test
// (fails it in CI) when there is none.
func redisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv(addrEnv)
	if addr == "" {
		testenv.Missing(t, "a Redis server ("+addrEnv+"; hub/redisbroker/ci-start-redis.sh starts one)")
	}
	return addr
}

// clusterAddrs returns the shared Redis Cluster's addresses, or skips the
// test (fails it in CI) when there is none.
func clusterAddrs(t testing.TB) []string {
	t.Helper()
	addrs := os.Getenv(clusterEnv)
	if addrs == "" {
		testenv.Missing(t, "a Redis Cluster ("+clusterEnv+"; hub/redisbroker/ci-start-redis.sh starts one)")
	}
	return strings.Split(addrs, ",")
}

// uniquePrefix keeps the channels of tests sharing a Redis server apart.
func uniquePrefix() string { return "test:" + rand.Text()[:10] + ":" }

// logBuffer collects log lines from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// node is one process's share of a test: a Redis client, a broker and its
// hub, and the broker's log.
type node struct {
	client redis.UniversalClient
	broker *redisbroker.Broker
	hub    *hub.Hub
	logs   *logBuffer
}

// newNode starts a node on the single Redis server at addr.
func newNode(t testing.TB, addr, prefix string, opts ...redisbroker.Option) *node {
	t.Helper()
	return startNode(t, redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: 1}),
		prefix, opts...)
}

// newClusterNode starts a node on the Redis Cluster whose masters are at
// addrs.
func newClusterNode(t testing.TB, addrs []string, prefix string, opts ...redisbroker.Option) *node {
	t.Helper()
	return startNode(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, DialTimeout: time.Second, MaxRetries: 1}),
		prefix, opts...)
}

func startNode(t testing.TB, client redis.UniversalClient, prefix string, opts ...redisbroker.Option) *node {
	t.Helper()
	n := &node{logs: &logBuffer{}, client: client}
	opts = append([]redisbroker.Option{
		redisbroker.WithPrefix(prefix),
		redisbroker.WithLogger(slog.New(slog.NewTextHandler(n.logs, nil))),
	}, opts...)
	n.broker = redisbroker.New(n.client, opts...)
	n.hub = hub.New(hub.WithBroker(n.broker))
	t.Cleanup(func() {
		require.NoError(t, n.hub.Close())
		require.NoError(t, n.client.Close())
	})
	return n
}

// waitUp waits until every node's broker is connected.
func waitUp(t testing.TB, nodes ...*node) {
	t.Helper()
	for _, n := range nodes {
		require.Eventually(t, func() bool { return n.hub.Health().Up }, 10*time.Second, 5*time.Millisecond,
			"broker not connected: %v", n.hub.Health().Err)
	}
}

// waitSubscribers waits until n connections subscribe to channel.
func waitSubscribers(t testing.TB, addr, channel string, n int64) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	require.Eventually(t, func() bool {
		got, err := c.PubSubNumSub(context.Background(), channel).Result()
		return err == nil && got[channel] == n
	}, 10*time.Second, 5*time.Millisecond, "subscribers of %s", channel)
}

func channel(prefix, room string) string { return fmt.Sprint(prefix, "room:", room) }

// waitRoomSubscribers waits until count connections subscribe to room's
// channel, on a single Redis or (sharded pub/sub) on a cluster, asking
// through n's client.
func waitRoomSubscribers(t testing.TB, n *node, room string, count int64) {
	t.Helper()
	ch := n.broker.ChannelOf("room:" + room)
	ctx := context.Background()
	require.Eventually(t, func() bool {
		c, ok := n.client.(*redis.ClusterClient)
		if !ok {
			got, err := n.client.PubSubNumSub(ctx, ch).Result()
			return err == nil && got[ch] == count
		}
		var mu sync.Mutex
		var sum int64
		err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			got, err := m.PubSubShardNumSub(ctx, ch).Result()
			mu.Lock()
			sum += got[ch]
			mu.Unlock()
			return err
		})
		return err == nil && sum == count
	}, 20*time.Second, 5*time.Millisecond, "subscribers of %s", ch)
}
