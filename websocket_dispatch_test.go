package tornago

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/websocket"
)

// echoOnMessageSocket echoes every message.
type echoOnMessageSocket struct{ sendSocket }

func (h *echoOnMessageSocket) OnMessage(m Message) error { return h.WriteMessage(m.Data, m.Binary) }

// dispatcherGoroutines counts the goroutines running a dispatcher.
func dispatcherGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("websocket.(*Session).dispatch("))
}

// TestWebSocketDispatchersLingerAndExit: a busy connection keeps one
// dispatcher waiting for its next message instead of starting one per
// message, each connection's messages reach OnMessage in order, and the
// dispatchers exit once the connections are quiet.
func TestWebSocketDispatchersLingerAndExit(t *testing.T) {
	const conns, rounds = 8, 50
	opened := make(chan *sendSocket, conns)
	addr := serveSendApp(t, Settings{}, func() Handler {
		return &echoOnMessageSocket{sendSocket{opened: opened, closed: make(chan struct{})}}
	})
	clients := make([]*websocket.Conn, conns)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range clients {
		c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
		require.NoError(t, err)
		t.Cleanup(func() { c.CloseNow() })
		clients[i] = c
		<-opened
	}
	most := 0
	for r := range rounds {
		for i, c := range clients {
			require.NoError(t, c.WriteMessage(ctx, websocket.TextMessage, fmt.Appendf(nil, "%d %d", i, r)))
		}
		for i, c := range clients {
			_, b, err := c.ReadMessage(ctx)
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("%d %d", i, r), string(b))
		}
		most = max(most, dispatcherGoroutines())
	}
	t.Logf("at most %d dispatcher goroutines for %d connections and %d messages", most, conns, conns*rounds)
	assert.LessOrEqual(t, most, conns)
	require.Eventually(t, func() bool { return dispatcherGoroutines() == 0 }, 5*time.Second, 10*time.Millisecond,
		"idle dispatchers exit")
	for _, c := range clients {
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	}
}
