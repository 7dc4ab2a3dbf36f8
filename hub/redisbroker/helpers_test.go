package redisbroker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
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
// tests use (.ci/run starts one with ci-start-redis.sh).
const addrEnv = "TORNAGO_REDIS_ADDR"

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
	client *redis.Client
	hub    *hub.Hub
	logs   *logBuffer
}

func newNode(t testing.TB, addr, prefix string, opts ...redisbroker.Option) *node {
	t.Helper()
	n := &node{logs: &logBuffer{}}
	n.client = redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: 1})
	opts = append([]redisbroker.Option{
		redisbroker.WithPrefix(prefix),
		redisbroker.WithLogger(slog.New(slog.NewTextHandler(n.logs, nil))),
	}, opts...)
	n.hub = hub.New(hub.WithBroker(redisbroker.New(n.client, opts...)))
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
