package main

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/examples/notify/internal/notifytest"
	"github.com/tornago/tornago/internal/exampletest"
	"github.com/tornago/tornago/internal/testenv"
)

// binary is the cluster notify server, built once for all tests (with
// -race when the tests run with it).
var binary string

func TestMain(m *testing.M) { exampletest.Main(m, &binary) }

// addrEnv names the variable holding the address of the Redis server the
// tests share (.ci/run starts one with hub/redisbroker/ci-start-redis.sh).
const addrEnv = "TORNAGO_REDIS_ADDR"

const token = "cluster-token"

// startCluster runs n notify processes sharing the Redis server named by
// addrEnv under a prefix of the test's own, with one token and cookie
// secret.
func startCluster(t *testing.T, n int) []*exampletest.Process {
	t.Helper()
	addr := os.Getenv(addrEnv)
	if addr == "" {
		testenv.Missing(t, "a Redis server ("+addrEnv+"; hub/redisbroker/ci-start-redis.sh starts one)")
	}
	return startClusterOn(t, addr, n)
}

// startClusterOn is startCluster on the Redis server at addr.
func startClusterOn(t *testing.T, addr string, n int) []*exampletest.Process {
	t.Helper()
	prefix := "test:notify:" + rand.Text()[:10] + ":"
	env := []string{"NOTIFY_TOKEN=" + token, "NOTIFY_COOKIE_SECRETS=1=cluster-secret"}
	ps := make([]*exampletest.Process, n)
	for i := range ps {
		ps[i] = exampletest.Start(t, binary, env, "-redis", addr, "-prefix", prefix)
	}
	return ps
}

func base(p *exampletest.Process) string { return "http://" + p.Addr }

// TestTabRecoversOnAnotherProcess: a tab open on process A; A stops; three
// notifications are posted through process B; the tab reconnects to B
// with its position and gets the three, once each, in order, then "joined",
// the unread count, and live ones. The history and the counts live in
// Redis, so B knows what A's tab saw.
func TestTabRecoversOnAnotherProcess(t *testing.T) {
	t.Parallel()
	ps := startCluster(t, 2)
	a, b := ps[0], ps[1]
	cookies := notifytest.Login(t, base(a), "alice")

	tab := notifytest.OpenTab(t, base(a), cookies, "alice", nil)
	require.Equal(t, "joined", tab.Read().Tornago)
	assert.Equal(t, 0, tab.Read().Unread)
	require.Equal(t, http.StatusOK, notifytest.Post(t, base(b), token, "alice", "before"))
	last := tab.Read()
	require.Equal(t, "pub", last.Tornago, "a notification posted on B reaches A's tab")

	a.Stop(t)
	for i := range 3 {
		require.Equal(t, http.StatusOK, notifytest.Post(t, base(b), token, "alice", fmt.Sprintf("away %d", i)))
	}
	tab = notifytest.OpenTab(t, base(b), cookies, "alice", &last)
	for i := range 3 {
		f := tab.Read()
		require.Equal(t, "pub", f.Tornago)
		assert.Equal(t, last.Offset+uint64(i)+1, f.Offset)
		assert.JSONEq(t, fmt.Sprintf(`{"text":"away %d","unread":%d}`, i, i+2), f.Data)
	}
	joined := tab.Read()
	require.Equal(t, "joined", joined.Tornago)
	require.NotNil(t, joined.Recovered)
	assert.True(t, *joined.Recovered)
	assert.Equal(t, 4, tab.Read().Unread)
	require.Equal(t, http.StatusOK, notifytest.Post(t, base(b), token, "alice", "live"))
	assert.JSONEq(t, `{"text":"live","unread":5}`, tab.Read().Data)
}

// TestRedisGoesAwayAndComesBack: while Redis is down, POST /notify
// answers 503 and no tab gets anything (no local-only delivery: the
// inbox's history would lack it); once Redis is back (empty: no
// persistence), notifications flow again without a restart, and the open
// tab is first told that it cannot be sure of what it missed (the history
// started a new epoch: the "gap" frame, on which the page reloads).
func TestRedisGoesAwayAndComesBack(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	ps := startClusterOn(t, r.Addr, 2)
	a, b := ps[0], ps[1]
	cookies := notifytest.Login(t, base(a), "alice")
	tab := notifytest.OpenTab(t, base(a), cookies, "alice", nil)
	require.Equal(t, "joined", tab.Read().Tornago)
	assert.Equal(t, 0, tab.Read().Unread)
	require.Equal(t, http.StatusOK, notifytest.Post(t, base(b), token, "alice", "before"))
	require.Equal(t, "pub", tab.Read().Tornago)

	r.Kill()
	assert.Equal(t, http.StatusServiceUnavailable, notifytest.Post(t, base(b), token, "alice", "lost"))
	assert.Equal(t, http.StatusServiceUnavailable, notifytest.Post(t, base(a), token, "alice", "lost too"))

	r.Start(t)
	frames := make(chan notifytest.Frame, 10)
	go func() {
		defer close(frames)
		for {
			f, ok := tab.TryRead()
			if !ok {
				return
			}
			frames <- f
		}
	}()
	// Until A's broker has subscribed again, a notification misses A's
	// tab: post until one reaches it.
	var first notifytest.Frame
	require.Eventually(t, func() bool {
		if status := notifytest.Post(t, base(b), token, "alice", "after"); status != http.StatusOK {
			return false
		}
		select {
		case first = <-frames:
			return true
		case <-time.After(200 * time.Millisecond):
			return false
		}
	}, 30*time.Second, 10*time.Millisecond, "notifications flow again")
	assert.Equal(t, "gap", first.Tornago, "%+v", first)
	require.NotNil(t, first.Recovered)
	assert.False(t, *first.Recovered)
	next := <-frames
	assert.Equal(t, "pub", next.Tornago)
	assert.Contains(t, next.Data, `"text":"after"`)
	tab.Close()
	for range frames {
	}
}
