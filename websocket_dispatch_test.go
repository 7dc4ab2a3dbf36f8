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
	return bytes.Count(buf, []byte("tornago.(*wsState).dispatch("))
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

// lingerSocket hands every message to a channel.
type lingerSocket struct {
	WebSocketHandler
	got chan Message
}

func (h *lingerSocket) OnMessage(m Message) error {
	h.got <- m
	return nil
}

// TestDispatcherLingersWhileBusy: while messages flow, the dispatcher
// waits for the next one instead of exiting (which would mean a new
// goroutine per message), takes it when it comes, and exits once the
// reader says the connection went quiet.
func TestDispatcherLingersWhileBusy(t *testing.T) {
	s := &wsState{maxMessageSize: 1 << 20, canLinger: true}
	s.inSpace.L, s.inReady.L = &s.inMu, &s.inMu
	h := &lingerSocket{got: make(chan Message, 4)}
	lingering := func() bool {
		s.inMu.Lock()
		defer s.inMu.Unlock()
		return s.lingering && s.dispatching
	}

	s.deliver(inboxItem{m: Message{Data: []byte("one")}}, h)
	require.Equal(t, "one", (<-h.got).Text())
	require.Eventually(t, lingering, 5*time.Second, time.Millisecond, "the dispatcher exited although messages flow")
	require.Equal(t, 1, dispatcherGoroutines())

	s.deliver(inboxItem{m: Message{Data: []byte("two")}}, h)
	require.Equal(t, "two", (<-h.got).Text())
	require.Eventually(t, lingering, 5*time.Second, time.Millisecond)
	require.Equal(t, 1, dispatcherGoroutines(), "the lingering dispatcher took the message")

	s.setBusy(false)
	s.dispatchWG.Wait() // the dispatcher exits
	require.Zero(t, dispatcherGoroutines())
}

// TestParkPolicy: after a message that came close behind the previous
// one the reader reads on (the connection is busy, the dispatcher keeps
// lingering); after a gap it parks, which also lets the dispatcher go.
func TestParkPolicy(t *testing.T) {
	s := &wsState{app: &Application{}}
	s.inSpace.L, s.inReady.L = &s.inMu, &s.inMu
	busy := func() bool {
		s.inMu.Lock()
		defer s.inMu.Unlock()
		return s.busy
	}

	s.busy = true
	require.False(t, s.park(true)) // the first message: no gap known, so quiet
	require.False(t, busy(), "a first message parks")

	// Two calls in a row are normally microseconds apart, but a loaded
	// machine can deschedule the test between them for longer than
	// busyGap; one try of several that comes in time is enough.
	keptBusy := false
	for range 10 {
		s.busy = true
		s.lastMessage.Store(time.Now().UnixNano())
		require.False(t, s.park(true))
		if keptBusy = busy(); keptBusy {
			break
		}
	}
	require.True(t, keptBusy, "a message right behind the previous one keeps the connection busy")

	s.busy = true
	s.lastMessage.Store(time.Now().Add(-busyGap - time.Millisecond).UnixNano())
	require.False(t, s.park(true))
	require.False(t, busy(), "a message after a gap parks")
}
