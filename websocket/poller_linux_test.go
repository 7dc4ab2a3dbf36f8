package websocket

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPollerStopsWhenIdle(t *testing.T) {
	p := newPoller()
	url, sessions := parkedServer(t, p, false)
	client := dialT(t, url, nil)
	echoOnce(t, client, "hi")
	s := <-sessions
	require.Eventually(t, func() bool { return s.parks.Load() >= 1 }, 5*time.Second, time.Millisecond)
	running := func() bool {
		p.sys.mu.RLock()
		defer p.sys.mu.RUnlock()
		return p.sys.running
	}
	require.True(t, running())
	require.NoError(t, client.Close(StatusNormalClosure, ""))
	waitEnded(t, s)
	require.Eventually(t, func() bool { return !running() }, 5*time.Second, 10*time.Millisecond,
		"the poller's goroutine outlived its last connection")
	// It comes back for the next connection.
	client = dialT(t, url, nil)
	echoOnce(t, client, "back")
	echoOnce(t, client, "again")
	require.NoError(t, p.Close())
}
