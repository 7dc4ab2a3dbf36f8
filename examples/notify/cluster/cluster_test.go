package main

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"testing"

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
