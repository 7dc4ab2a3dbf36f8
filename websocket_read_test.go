package tornago_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/websocket"
)

func echoRoundTrip(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.WriteMessage(ctx, websocket.TextMessage, []byte(msg)))
	_, got, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	require.Equal(t, msg, string(got))
}

// Quiet connections park their readers in the application's poller: no
// goroutine per idle connection, and each one still answers.
func TestWebSocketHandlerQuietConnectionsHoldNoGoroutine(t *testing.T) {
	if !websocket.PollerSupported {
		t.Skip("no poller on this platform: every connection keeps a reader")
	}
	var closed atomic.Int32
	_, url := startEchoApp(t, &closed)
	// Warm up the server's goroutines (listener, keepalive, poller).
	warm := dial(t, url, nil)
	_, _, err := warm.ReadMessage(context.Background())
	require.NoError(t, err)
	echoRoundTrip(t, warm, "warm")
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()

	const n = 200
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = dial(t, url, nil)
		_, hello, err := conns[i].ReadMessage(context.Background())
		require.NoError(t, err)
		require.Equal(t, "hello anon", string(hello))
		echoRoundTrip(t, conns[i], fmt.Sprint("first ", i))
	}
	require.Eventually(t, func() bool { return readers() == 0 }, 5*time.Second, 10*time.Millisecond,
		"%d readers with %d quiet connections", readers(), n)
	require.Less(t, runtime.NumGoroutine()-before, 10, "goroutines: %d before, %d with %d quiet connections", before, runtime.NumGoroutine(), n)

	// A busy connection keeps its reader in the read between messages
	// that come close together; once quiet, the keepalive goroutine
	// parks it, and it still works afterwards.
	busy := conns[0]
	for i := range 20 {
		echoRoundTrip(t, busy, fmt.Sprint("burst ", i))
	}
	require.Equal(t, 1, readers(), "the busy reader stays in its read")
	require.Equal(t, 1, dispatchers(), "the busy connection's dispatcher waits for the next message")
	require.Eventually(t, func() bool { return readers() == 0 && dispatchers() == 0 }, 5*time.Second, 20*time.Millisecond,
		"the quiet connection kept %d readers and %d dispatchers", readers(), dispatchers())
	echoRoundTrip(t, busy, "after parking")

	for i, c := range conns {
		echoRoundTrip(t, c, fmt.Sprint("second ", i))
	}
	for _, c := range conns {
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	}
	require.Eventually(t, func() bool { return closed.Load() == n }, 5*time.Second, 10*time.Millisecond,
		"OnClose ran %d times for %d connections", closed.Load(), n)
}

// readers counts the goroutines in a WebSocketHandler's read loop.
func readers() int { return goroutinesIn("tornago.(*wsState).readLoop(") }

// dispatchers counts the goroutines calling OnMessage or waiting to.
func dispatchers() int { return goroutinesIn("tornago.(*wsState).dispatch(") }

func goroutinesIn(function string) int {
	var b strings.Builder
	pprof.Lookup("goroutine").WriteTo(&b, 2)
	return strings.Count(b.String(), function)
}
