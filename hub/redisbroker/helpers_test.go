package redisbroker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
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

// redisServer is a redis-server process of the test's own, which it can
// kill and start again on the same port.
type redisServer struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	r := &redisServer{bin: testenv.LookPath(t, "redis-server"), dir: t.TempDir(), port: freePort(t)}
	r.start(t)
	t.Cleanup(func() { r.kill(t) })
	return r
}

func (r *redisServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

func (r *redisServer) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--logfile", filepath.Join(r.dir, "redis.log"))
	require.NoError(t, r.cmd.Start())
	up := assert.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", r.addr(), 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	if !up {
		t.Fatalf("redis-server did not start; its log:\n%s", r.log())
	}
}

func (r *redisServer) log() string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
	return string(b)
}

// kill ends the server with SIGKILL, as a crash.
func (r *redisServer) kill(t *testing.T) {
	t.Helper()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func channel(prefix, room string) string { return fmt.Sprint(prefix, "room:", room) }
