package websocket

// The dispatcher and the park policy, driven directly.

import (
	"bytes"
	"context"
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
// (readLoop parks only when stampMessage says the message was not close
// behind.)
func TestParkPolicy(t *testing.T) {
	s := &Session{group: &Group{}}
	s.inWake.L = &s.inMu
	busy := func() bool {
		s.inMu.Lock()
		defer s.inMu.Unlock()
		return s.busy
	}

	s.busy = true
	require.False(t, s.stampMessage(time.Now().UnixNano()), "a first message: no gap known, so quiet")
	require.False(t, s.park())
	require.False(t, busy(), "parking lets the dispatcher go")

	// Two calls in a row are normally microseconds apart, but a loaded
	// machine can deschedule the test between them for longer than
	// busyGap; one try of several that comes in time is enough.
	closeBehind := false
	for range 10 {
		s.lastMessage.Store(time.Now().UnixNano())
		if closeBehind = s.stampMessage(time.Now().UnixNano()); closeBehind {
			break
		}
	}
	require.True(t, closeBehind, "a message right behind the previous one keeps the reader reading")

	s.lastMessage.Store(time.Now().Add(-busyGap - time.Millisecond).UnixNano())
	require.False(t, s.stampMessage(time.Now().UnixNano()), "a message after a gap lets the reader park")
}

// TestInlineOnMessageHandsOffReading: with the keepalive goroutine
// running (a TCP connection the poller can park), the reader runs
// OnMessage itself; when OnMessage outlasts inlineHandOffAfter, the
// keepalive hands the reading to a new goroutine within a tick, so the
// messages that follow are read (and pings answered) while OnMessage
// still runs, and once it returns they reach OnMessage in order.
func TestInlineOnMessageHandsOffReading(t *testing.T) {
	release := make(chan struct{})
	got := make(chan string, 8)
	f := newSessionFixture(t, SessionOptions{}, newTestEvents(func(m Message) error {
		got <- string(m.Data)
		if string(m.Data) == "slow" {
			<-release
		}
		return nil
	}), 0, false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	require.NoError(t, f.client.WriteMessage(ctx, TextMessage, []byte("slow")))
	require.Equal(t, "slow", <-got)
	require.True(t, f.s.hasFlag(stateInline), "the first message of a quiet connection runs on the reader")
	for _, m := range []string{"two", "three", "four"} {
		require.NoError(t, f.client.WriteMessage(ctx, TextMessage, []byte(m)))
	}
	require.Eventually(t, func() bool { n, _ := inboxBytes(f.s); return n >= 3*inboxItemCost }, 10*time.Second, time.Millisecond,
		"the messages behind a slow OnMessage were not read: the reading was not handed off")

	close(release)
	for _, want := range []string{"two", "three", "four"} {
		select {
		case m := <-got:
			require.Equal(t, want, m, "messages in order across the hand-off")
		case <-ctx.Done():
			t.Fatalf("%q never reached OnMessage", want)
		}
	}
	require.Eventually(t, func() bool { return !f.s.hasFlag(stateInline | stateHandedOff) }, 10*time.Second, time.Millisecond,
		"the old reader finished as the dispatcher")

	// The connection goes on: the next message, with no dispatcher
	// lingering once the connection turned quiet, runs inline again.
	require.NoError(t, f.client.WriteMessage(ctx, TextMessage, []byte("five")))
	require.Equal(t, "five", <-got)
}
