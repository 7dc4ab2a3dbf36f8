package notifyserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/examples/notify/internal/notifytest"
	"github.com/tornago/tornago/hub"
)

const testToken = "cluster-test-token"

// node is one process of a cluster in a test: an Application on a hub
// whose memory broker is connected to the other nodes'.
type node struct {
	hub *hub.Hub
	app *tornago.Application
	srv *httptest.Server
}

// startNodes runs n nodes sharing history, presence and the unread counts.
func startNodes(t *testing.T, n int) []*node {
	t.Helper()
	counts := NewMemoryCounter()
	nodes := make([]*node, n)
	for i, b := range hub.NewMemoryBrokers(n) {
		h := hub.New(hub.WithBroker(b), hub.WithHistory(InboxHistory))
		app, err := newApp(tornago.Settings{
			CookieSecrets: map[int]string{1: "cluster secret"},
			KeyVersion:    1,
			XSRFCookies:   true,
			LoginURL:      "/login",
			TemplatePath:  DefaultDir() + "/templates",
			StaticPath:    DefaultDir() + "/static",
			Logger:        slog.New(slog.DiscardHandler),
		}, &service{hub: h, counts: counts, logger: slog.New(slog.DiscardHandler)}, testToken)
		require.NoError(t, err)
		nd := &node{hub: h, app: app, srv: httptest.NewServer(app)}
		t.Cleanup(nd.stop)
		nodes[i] = nd
	}
	return nodes
}

// stop shuts the node down as a process that exits: its sockets close,
// its hub stops.
func (nd *node) stop() {
	if nd.srv == nil {
		return
	}
	nd.srv.Close()
	_ = nd.app.Shutdown(context.Background())
	_ = nd.hub.Close()
	nd.srv = nil
}

// TestNotificationsFollowTheTabToAnotherProcess is the cluster mode's
// promise on memory brokers: a tab open on node A, A stops, three
// notifications are published through node B, and the tab, reconnecting
// to B with its position, shows each once, in order, then live ones.
func TestNotificationsFollowTheTabToAnotherProcess(t *testing.T) {
	t.Parallel()
	nodes := startNodes(t, 2)
	a, b := nodes[0], nodes[1]
	cookies := notifytest.Login(t, a.srv.URL, "alice")

	tb := notifytest.OpenTab(t, a.srv.URL, cookies, "alice", nil)
	require.Equal(t, "joined", tb.Read().Tornago)
	assert.Equal(t, 0, tb.Read().Unread)
	require.Equal(t, http.StatusOK, notifytest.Post(t, b.srv.URL, testToken, "alice", "before"))
	last := tb.Read()
	require.Equal(t, "pub", last.Tornago)

	a.stop()
	for i := range 3 {
		require.Equal(t, http.StatusOK, notifytest.Post(t, b.srv.URL, testToken, "alice", fmt.Sprintf("away %d", i)))
	}
	tb = notifytest.OpenTab(t, b.srv.URL, cookies, "alice", &last)
	for i := range 3 {
		f := tb.Read()
		require.Equal(t, "pub", f.Tornago)
		assert.Equal(t, last.Offset+uint64(i)+1, f.Offset)
		assert.JSONEq(t, fmt.Sprintf(`{"text":"away %d","unread":%d}`, i, i+2), f.Data)
	}
	joined := tb.Read()
	require.Equal(t, "joined", joined.Tornago)
	require.NotNil(t, joined.Recovered)
	assert.True(t, *joined.Recovered)
	assert.Equal(t, 4, tb.Read().Unread)
	require.Equal(t, http.StatusOK, notifytest.Post(t, b.srv.URL, testToken, "alice", "live"))
	f := tb.Read()
	assert.JSONEq(t, `{"text":"live","unread":5}`, f.Data)
	assert.Equal(t, last.Offset+4, f.Offset)
}
