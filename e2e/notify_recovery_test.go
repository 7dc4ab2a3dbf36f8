package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/exampletest"
	"github.com/tornago/tornago/internal/testenv"
)

// signInAt is signIn through the proxy: the page's only address.
func signInAt(p *page, px *proxy, name string) {
	p.t.Helper()
	p.navigate(px.url("/"))
	resp := submitSignIn(p, name)
	require.EqualValues(p.t, http.StatusOK, resp.Status, "page %s: signing in", p.name)
	require.Equal(p.t, px.url("/"), resp.URL, "page %s: where signing in ends", p.name)
	// A mark that a reload wipes out.
	eval[chromedp.Void](p, `window.notReloaded = true`)
}

// waitItems waits until p is connected and shows exactly items (newest
// first) with unread notifications unread.
func waitItems(p *page, unread int, items ...string) {
	p.t.Helper()
	js := make([]string, len(items))
	for i, it := range items {
		js[i] = fmt.Sprintf("%q", it)
	}
	p.waitJSWithin(fmt.Sprintf(`document.getElementById("status").textContent === "" &&
		document.getElementById("unread").textContent === "%d" &&
		JSON.stringify(Array.from(document.querySelectorAll("#notifications li"), (li) => li.textContent)) === JSON.stringify([%s])`,
		unread, strings.Join(js, ",")), fmt.Sprintf("the page to show %d unread and %q", unread, items), reconnectTimeout)
}

// waitReloaded waits until p has reloaded itself (the mark signInAt set is
// gone) and shows the reloaded page; evaluations that the reload
// interrupts are tried again.
func waitReloaded(p *page, what string) {
	p.t.Helper()
	deadline := time.Now().Add(reconnectTimeout)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
		reloaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded === undefined &&
			document.readyState === "complete" && document.getElementById("unread") !== null`))
		cancel()
		if err == nil && reloaded {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("page %s: waited %v for %s (last error: %v)", p.name, reconnectTimeout, what, err)
		}
		time.Sleep(50 * time.Millisecond) // between polls, as chromedp.Poll
	}
}

// waitDisconnected waits until p's script reports the lost connection.
func waitDisconnected(p *page) {
	p.t.Helper()
	p.waitJS(`document.getElementById("status").textContent !== ""`, "the page to notice the lost connection")
}

// TestNotifyRecoversAfterDrop: the page's connection drops (the network,
// not the server); three notifications are posted meanwhile; the page
// reconnects by itself to the same process, whose history has them, and
// shows each once without reloading. Then it lands on a process that
// cannot recover its position (a new process: the memory broker's history
// is another epoch): the page gets "notrecovered" and reloads.
func TestNotifyRecoversAfterDrop(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	s := startNotify(t, "")
	px := startProxy(t, s.Addr)
	p := newBrowser(t).newPage(t, "alice")
	signInAt(p, px, "alice")
	waitUnread(p, 0)
	status, answer := postNotify(t, s, notifyToken, "alice", "one")
	require.Equal(t, http.StatusOK, status, "%v", answer)
	waitItems(p, 1, "one")

	px.route("")
	px.cut()
	waitDisconnected(p)
	for _, text := range []string{"two", "three", "four"} {
		status, answer := postNotify(t, s, notifyToken, "alice", text)
		require.Equal(t, http.StatusOK, status, "%v", answer)
	}
	px.route(s.Addr)
	waitItems(p, 4, "four", "three", "two", "one")
	assert.True(t, eval[bool](p, `window.notReloaded === true`), "the page recovered without a reload")

	other := startNotify(t, "")
	px.route(other.Addr)
	px.cut()
	waitReloaded(p, "the page to reload, its notifications not recoverable")
	waitItems(p, 0)
	other.waitLog(t, "could not recover what it missed")
}

// The cluster notify server (examples/notify/cluster, a module of its
// own), built once by the first test that needs it.
var (
	clusterOnce sync.Once
	clusterBin  string
	clusterErr  error
)

// clusterBinary builds examples/notify/cluster into the examples' directory.
func clusterBinary(t *testing.T) string {
	t.Helper()
	exampleBinary(t, "notify") // waits for binDir
	clusterOnce.Do(func() {
		clusterBin = filepath.Join(binDir, "notify-cluster")
		args := []string{"build", "-o", clusterBin}
		if testenv.RaceEnabled() {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, ".")...)
		cmd.Dir = filepath.Join("..", "examples", "notify", "cluster")
		if out, err := cmd.CombinedOutput(); err != nil {
			clusterErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	require.NoError(t, clusterErr)
	return clusterBin
}

// startNotifyCluster runs a process of the cluster notify server on the
// Redis server of $TORNAGO_REDIS_ADDR under prefix.
func startNotifyCluster(t *testing.T, redisAddr, prefix string) *server {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "examples", "notify"))
	require.NoError(t, err)
	return &server{Process: exampletest.Start(t, clusterBinary(t), nil, "-dir", dir, "-token", notifyToken,
		"-cookie-secrets", "1=e2e-cookie-secret", "-redis", redisAddr, "-prefix", prefix), name: "notify-cluster"}
}

// TestNotifyClusterRecoversOnAnotherProcess: the notify page is open on
// process A of a cluster sharing Redis; A is killed (SIGKILL); three
// notifications are posted through process B; the page reconnects (the
// proxy, as a load balancer, now sends it to B) and shows all three
// exactly once, without reloading. Then it lands on a process of another
// cluster (another prefix: its history has another epoch) and reloads.
func TestNotifyClusterRecoversOnAnotherProcess(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	redisAddr := os.Getenv("TORNAGO_REDIS_ADDR")
	if redisAddr == "" {
		testenv.Missing(t, "a Redis server (TORNAGO_REDIS_ADDR; hub/redisbroker/ci-start-redis.sh starts one)")
	}
	prefix := "e2e:notify:" + rand.Text()[:10] + ":"
	a := startNotifyCluster(t, redisAddr, prefix)
	b := startNotifyCluster(t, redisAddr, prefix)
	px := startProxy(t, a.Addr)
	p := newBrowser(t).newPage(t, "alice")
	signInAt(p, px, "alice")
	waitUnread(p, 0)
	status, answer := postNotify(t, b, notifyToken, "alice", "before")
	require.Equal(t, http.StatusOK, status, "%v", answer)
	waitItems(p, 1, "before")

	px.route(b.Addr)
	a.Kill()
	waitDisconnected(p)
	for _, text := range []string{"one", "two", "three"} {
		status, answer := postNotify(t, b, notifyToken, "alice", text)
		require.Equal(t, http.StatusOK, status, "%v", answer)
	}
	waitItems(p, 4, "three", "two", "one", "before")
	assert.True(t, eval[bool](p, `window.notReloaded === true`), "the page recovered without a reload")

	other := startNotifyCluster(t, redisAddr, prefix+"other:")
	px.route(other.Addr)
	px.cut()
	waitReloaded(p, "the page to reload, its notifications not recoverable")
	waitItems(p, 0)
}
