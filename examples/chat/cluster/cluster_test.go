package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/examples/chat/internal/chattest"
	"github.com/tornago/tornago/internal/testenv"
	"github.com/tornago/tornago/websocket"
)

// binary is the cluster chat server, built once for all tests (with -race when the
// tests run with it).
var binary string

func TestMain(m *testing.M) { chattest.Main(m, &binary) }

// addrEnv names the variable holding the address of the Redis server the
// tests share (.ci/run starts one with hub/redisbroker/ci-start-redis.sh).
const addrEnv = "TORNAGO_REDIS_ADDR"

// redisAddr returns the shared Redis server's address, or skips the test
// (fails it in CI) when there is none.
func redisAddr(t *testing.T) string {
	t.Helper()
	addr := os.Getenv(addrEnv)
	if addr == "" {
		testenv.Missing(t, "a Redis server ("+addrEnv+"; hub/redisbroker/ci-start-redis.sh starts one)")
	}
	return addr
}

// startCluster runs n chat processes sharing the Redis server at addr,
// under a prefix of the test's own, and waits until each has subscribed
// to the chat's channel (before that, messages from the others would not
// reach it). It returns the processes and the channel.
func startCluster(t *testing.T, addr string, n int) ([]*chattest.Server, string) {
	t.Helper()
	prefix := "test:chat:" + rand.Text()[:10] + ":"
	servers := make([]*chattest.Server, n)
	for i := range servers {
		servers[i] = chattest.Start(t, binary, "-redis", addr, "-prefix", prefix)
	}
	channel := prefix + "room:chat"
	waitSubscribers(t, addr, channel, n)
	return servers, channel
}

// waitSubscribers waits until n connections subscribe to channel.
func waitSubscribers(t *testing.T, addr, channel string, n int) {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	require.Eventually(t, func() bool {
		got, err := client.PubSubNumSub(context.Background(), channel).Result()
		return err == nil && got[channel] == int64(n)
	}, 10*time.Second, 5*time.Millisecond, "%d processes subscribe to %s", n, channel)
}

// receiveBodies reads n messages from c and returns their bodies.
func receiveBodies(t *testing.T, c *websocket.Conn, n int) []string {
	t.Helper()
	bodies := make([]string, n)
	for i := range bodies {
		bodies[i] = chattest.Receive(t, c).Body
	}
	return bodies
}

// expectNext checks that the next message c receives is the one
// with body marker: nothing was delivered twice before it.
func expectNext(t *testing.T, c *websocket.Conn, marker string) {
	t.Helper()
	assert.Equal(t, marker, chattest.Receive(t, c).Body, "the message after the expected ones")
}

func TestMessagesCrossProcesses(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	servers, _ := startCluster(t, addr, 2)
	a, b := servers[0], servers[1]
	alice, bob := a.Dial(t, nil), b.Dial(t, nil) // each with its own page's Origin

	// Sent on A: both members get each message once, in order, with one id.
	var want []string
	for i := range 5 {
		body := fmt.Sprintf("from A %d", i)
		chattest.Send(t, alice, body)
		ma, mb := chattest.Receive(t, alice), chattest.Receive(t, bob)
		assert.Equal(t, body, ma.Body)
		assert.Equal(t, ma, mb, "the same message, id and html, on both processes")
		want = append(want, body)
	}
	// And the other way round.
	for i := range 5 {
		body := fmt.Sprintf("from B %d", i)
		chattest.Send(t, bob, body)
		mb, ma := chattest.Receive(t, bob), chattest.Receive(t, alice)
		assert.Equal(t, body, mb.Body)
		assert.Equal(t, mb, ma)
		want = append(want, body)
	}
	// A burst from one member arrives in order everywhere.
	for i := range 20 {
		body := fmt.Sprintf("burst %02d", i)
		chattest.Send(t, alice, body)
		want = append(want, body)
	}
	burst := want[len(want)-20:]
	assert.Equal(t, burst, receiveBodies(t, alice, 20))
	assert.Equal(t, burst, receiveBodies(t, bob, 20))
	// Nothing came twice.
	chattest.Send(t, bob, "end")
	want = append(want, "end")
	expectNext(t, alice, "end")
	expectNext(t, bob, "end")

	// Both pages show the same history, whichever process served the
	// message. (A process's cache takes each message before its sockets
	// do; Eventually only spares the test that detail.)
	for _, s := range servers {
		assert.Eventually(t, func() bool { return fmt.Sprint(s.Cached(t)) == fmt.Sprint(want) },
			5*time.Second, 10*time.Millisecond, "the page of %s", s.Addr)
		assert.Equal(t, want, s.Cached(t), "the page of %s", s.Addr)
	}
}

// TestConcurrentSendersAcrossProcesses has members on both processes send
// at once. Every member gets every message once and each sender's in its
// order; the members of one process share one order, which that process's
// page shows. (Processes may interleave different senders differently.)
func TestConcurrentSendersAcrossProcesses(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	servers, _ := startCluster(t, addr, 2)
	type member struct {
		s *chattest.Server
		c *websocket.Conn
	}
	var members []member
	for _, s := range servers {
		for range 2 {
			members = append(members, member{s, s.Dial(t, nil)})
		}
	}
	const each = 15
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Go(func() {
			for j := range each {
				msg := fmt.Sprintf(`{"body": "m%d-%02d"}`, i, j)
				if err := m.c.WriteMessage(context.Background(), websocket.TextMessage, []byte(msg)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	total := each * len(members)
	orders := make([][]string, len(members))
	for i, m := range members {
		orders[i] = receiveBodies(t, m.c, total)
	}
	wg.Wait()

	for i, order := range orders {
		seen := map[string]int{}
		next := make([]int, len(members)) // the next number expected from each sender
		for _, body := range order {
			seen[body]++
			var from, n int
			_, err := fmt.Sscanf(body, "m%d-%d", &from, &n)
			require.NoError(t, err, body)
			assert.Equal(t, next[from], n, "member %d: sender %d's messages in order", i, from)
			next[from] = n + 1
		}
		assert.Len(t, seen, total, "member %d gets every message once", i)
	}
	for i := 1; i < len(members); i++ {
		if members[i].s == members[i-1].s {
			assert.Equal(t, orders[i-1], orders[i], "members %d and %d of one process", i-1, i)
		}
	}
	for i, m := range members {
		assert.Eventually(t, func() bool { return fmt.Sprint(m.s.Cached(t)) == fmt.Sprint(orders[i]) },
			5*time.Second, 10*time.Millisecond, "the page of %s shows member %d's order", m.s.Addr, i)
	}
}

// TestRedisUnreachable: with no Redis to talk to, a process still serves
// its own members, and logs that the messages reached no other process.
func TestRedisUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	nowhere := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	s := chattest.Start(t, binary, "-redis", nowhere)
	alice, bob := s.Dial(t, nil), s.Dial(t, nil)
	chattest.Send(t, alice, "local only")
	assert.Equal(t, "local only", chattest.Receive(t, alice).Body)
	assert.Equal(t, "local only", chattest.Receive(t, bob).Body)
	chattest.Send(t, bob, "still open")
	assert.Equal(t, "still open", chattest.Receive(t, alice).Body)
	assert.Equal(t, "still open", chattest.Receive(t, bob).Body)
	assert.Equal(t, []string{"local only", "still open"}, s.Cached(t))
	// The publish to Redis, and so its error, comes after the local
	// delivery.
	assert.Eventually(t, func() bool {
		return strings.Count(s.Log.String(), `msg="error sending message to other processes" error="hub: delivered on this node only`) == 2
	}, 10*time.Second, 10*time.Millisecond, "both failed publishes logged")
}

func TestRedisRequired(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binary, "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "REDIS_ADDR=")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "%s", out)
	assert.Equal(t, 2, ee.ExitCode())
	assert.Contains(t, string(out), "-redis (or $REDIS_ADDR) is required")
}

// TestRedisGoesAwayAndComesBack: while Redis is down each process serves
// its own members and logs the publishes that reached no other; once it is
// back, messages cross processes again, without a restart.
func TestRedisGoesAwayAndComesBack(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	servers, channel := startCluster(t, r.Addr, 2)
	a, b := servers[0], servers[1]
	alice, bob := a.Dial(t, nil), b.Dial(t, nil)
	chattest.Send(t, alice, "before")
	assert.Equal(t, "before", chattest.Receive(t, alice).Body)
	assert.Equal(t, "before", chattest.Receive(t, bob).Body)

	r.Kill()
	for _, s := range servers {
		require.Eventually(t, func() bool { return strings.Contains(s.Log.String(), "level=WARN") },
			10*time.Second, 10*time.Millisecond, "%s notices Redis is gone", s.Addr)
	}
	chattest.Send(t, alice, "during, on A")
	assert.Equal(t, "during, on A", chattest.Receive(t, alice).Body)
	chattest.Send(t, bob, "during, on B")
	assert.Equal(t, "during, on B", chattest.Receive(t, bob).Body, "B's member gets B's message, not A's")
	// The publish to Redis, and so its error, comes after the local
	// delivery.
	for _, s := range servers {
		assert.Eventually(t, func() bool { return strings.Contains(s.Log.String(), "error sending message to other processes") },
			10*time.Second, 10*time.Millisecond, "%s logs the failed publish", s.Addr)
	}

	r.Start(t)
	waitSubscribers(t, r.Addr, channel, 2) // the brokers subscribe again by themselves
	chattest.Send(t, bob, "after")
	assert.Equal(t, "after", chattest.Receive(t, bob).Body)
	assert.Equal(t, "after", chattest.Receive(t, alice).Body, "the next message A's member gets is B's, posted after Redis came back")
	// Each page shows what its process delivered: Redis replays nothing.
	assert.Equal(t, []string{"before", "during, on A", "after"}, a.Cached(t))
	assert.Equal(t, []string{"before", "during, on B", "after"}, b.Cached(t))
}
