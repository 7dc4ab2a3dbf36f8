package websocket

// The dispatcher and the park policy, driven directly.

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// dispatcherGoroutines counts the goroutines running a dispatcher.
func dispatcherGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("websocket.(*Session).dispatch("))
}

// TestDispatcherLingersWhileBusy: while messages flow, the dispatcher
// waits for the next one instead of exiting (which would mean a new
// goroutine per message), takes it when it comes, and exits once the
// reader says the connection went quiet.
func TestDispatcherLingersWhileBusy(t *testing.T) {
	got := make(chan Message, 4)
	s := &Session{canLinger: true, events: newTestEvents(func(m Message) error {
		got <- m
		return nil
	})}
	s.inWake.L = &s.inMu
	lingering := func() bool {
		s.inMu.Lock()
		defer s.inMu.Unlock()
		return s.lingering && s.dispatching
	}

	s.deliver(inboxItem{m: Message{Data: []byte("one")}})
	require.Equal(t, "one", string((<-got).Data))
	require.Eventually(t, lingering, 5*time.Second, time.Millisecond, "the dispatcher exited although messages flow")
	require.Equal(t, 1, dispatcherGoroutines())

	s.deliver(inboxItem{m: Message{Data: []byte("two")}})
	require.Equal(t, "two", string((<-got).Data))
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
	s := &Session{group: &Group{}}
	s.inWake.L = &s.inMu
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
