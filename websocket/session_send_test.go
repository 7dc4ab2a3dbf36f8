package websocket

// The session's send path: a message the socket takes whole is written
// on the caller's goroutine, the rest is queued (issue 8). Everything goes
// over loopback TCP, so that the tests can shrink the socket buffers.

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// numbered is message i: its number followed by filler, n bytes in all.
func numbered(i, n int) []byte {
	b := fmt.Appendf(nil, "%06d ", i)
	return append(b, bytes.Repeat([]byte{byte('a' + i%26)}, n-len(b))...)
}

// maxFrameHeader is the longest header of a server's frame.
const maxFrameHeader = 10

// TestSessionSendInlineAllocatesNothing: a message the socket takes
// whole is written on the caller's goroutine without a copy, a queue
// entry or a flusher.
func TestSessionSendInlineAllocatesNothing(t *testing.T) {
	f := newSessionFixture(t, SessionOptions{}, nil, 0, false)
	msg := numbered(1, 64)
	const runs = 100 // 6.6 KB: the socket buffers take it all
	allocs := testing.AllocsPerRun(runs, func() {
		if err := f.s.Send(BinaryMessage, msg); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
	pending, items, queued := f.queueState()
	assert.False(t, pending)
	assert.Zero(t, items)
	assert.Zero(t, queued)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	assert.NoError(t, f.s.Flush(cancelled), "a message written whole counts as sent")
	for range runs + 1 {
		assert.Equal(t, msg, f.read(t))
	}
}

// TestSessionSendPartialWriteThenQueue: against a client that stops
// reading, writes go out whole until the socket takes part of one; the
// rest of that frame is queued, later messages and pings queue behind it,
// Flush waits for all of it, and the client gets everything whole and in
// order once it reads again.
func TestSessionSendPartialWriteThenQueue(t *testing.T) {
	t.Parallel()
	f := newSessionFixture(t, SessionOptions{SendQueueSize: 4 << 20}, nil, 16384, false)
	const size = 10007
	var want []string
	whole := 0
	for i := 0; ; i++ {
		require.Less(t, i, 2000, "the socket never took part of a frame")
		require.NoError(t, f.s.Send(BinaryMessage, numbered(i, size)))
		want = append(want, fmt.Sprintf("message %d", size))
		pending, items, queued := f.queueState()
		if items == 0 {
			whole++
			continue
		}
		// The first write that does not go out whole either leaves a
		// remainder or, if the socket took nothing, is queued whole.
		if pending {
			assert.Equal(t, 1, items)
			assert.Less(t, queued, size+maxFrameHeader)
			t.Logf("%d messages went out whole, then %d bytes of the next were left", whole, queued)
		} else {
			t.Logf("%d messages went out whole, then the socket was full", whole)
		}
		break
	}
	n := len(want)

	// Behind the remainder, pings and messages queue in order.
	require.NoError(t, f.s.Ping([]byte("p1")))
	want = append(want, "ping p1")
	for i := range 3 {
		require.NoError(t, f.s.Send(BinaryMessage, numbered(n+i, size)))
		want = append(want, fmt.Sprintf("message %d", size))
	}
	require.NoError(t, f.s.Ping([]byte("p2")))
	want = append(want, "ping p2")
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, f.s.Flush(short), context.DeadlineExceeded, "the client reads nothing, so Flush waits")

	flushed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		flushed <- f.s.Flush(ctx)
	}()
	for i := range n + 3 {
		got := f.read(t)
		require.Equal(t, numbered(i, size), got, "message %d", i)
	}
	require.NoError(t, <-flushed)
	// The second ping arrives with the next read.
	require.NoError(t, f.s.Send(TextMessage, []byte("last")))
	assert.Equal(t, []byte("last"), f.read(t))
	want = append(want, "message 4")
	assert.Equal(t, want, f.events.list())
	pending, items, queued := f.queueState()
	assert.False(t, pending)
	assert.Zero(t, items)
	assert.Zero(t, queued)
}

// TestSessionSendOrderAcrossInlineAndQueued: many goroutines write and
// ping at once against a client that reads slowly through small buffers,
// so writes go out whole, in part and through the queue; every writer's
// messages arrive whole and in order.
func TestSessionSendOrderAcrossInlineAndQueued(t *testing.T) {
	t.Parallel()
	const writers, perWriter = 8, 150
	f := newSessionFixture(t, SessionOptions{SendQueueSize: 64 << 20}, nil, 32768, false)
	payload := func(g, i int) []byte {
		return append(fmt.Appendf(nil, "%02d %04d ", g, i), bytes.Repeat([]byte{byte('a' + g)}, (i*997+g*131)%6000)...)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var partial int
	errs := make(chan error, writers+1)
	for g := range writers {
		wg.Go(func() {
			for i := range perWriter {
				var err error
				if i%2 == 0 {
					err = f.s.Send(BinaryMessage, payload(g, i))
				} else {
					var pm *PreparedMessage
					if pm, err = NewPreparedMessage(BinaryMessage, payload(g, i)); err == nil {
						err = f.s.SendPrepared(pm)
					}
				}
				if err != nil {
					errs <- err
					return
				}
				if pending, _, _ := f.queueState(); pending {
					mu.Lock()
					partial++
					mu.Unlock()
				}
				if i%4 == 0 {
					time.Sleep(20 * time.Microsecond) // let the others at the socket
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 30 {
			if err := f.s.Ping([]byte{byte('0' + i%10)}); err != nil {
				errs <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	next := make([]int, writers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for n := range writers * perWriter {
		_, b, err := f.client.ReadMessage(ctx)
		require.NoError(t, err, "message %d", n)
		var g, i int
		_, err = fmt.Sscanf(string(b[:8]), "%02d %04d", &g, &i)
		require.NoError(t, err, "message %d: %q", n, b[:min(len(b), 20)])
		require.Equal(t, next[g], i, "writer %d out of order", g)
		next[g]++
		require.Equal(t, payload(g, i), b, "message %d/%d corrupted", g, i)
		if n%64 == 0 {
			time.Sleep(time.Millisecond) // a slow reader
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	require.NoError(t, f.s.Flush(ctx))
	t.Logf("a remainder was queued after %d of the writes", partial)
}

// flusherGoroutines counts the goroutines running a flusher.
func flusherGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("websocket.(*Session).flushLoop("))
}

// TestFlusherLingersWhileSendsFlow: a lone message's flusher exits once
// it is written (an idle connection keeps no goroutine between pings);
// once messages flow (a second one queued within a keepalive tick), the
// flusher waits for the next prepared message instead of exiting (one
// goroutine for a whole broadcast, not one per burst), sends it when it
// comes, exits after a keepalive tick without sends, and does not hold
// up the end of the session when it lingers then.
func TestFlusherLingersWhileSendsFlow(t *testing.T) {
	f := newSessionFixture(t, SessionOptions{}, nil, 16384, false)
	f.s.mu.Lock()
	require.True(t, f.s.canLinger, "the fixture's session has a keepalive goroutine (poller or pings)")
	f.s.mu.Unlock()
	idle := func() bool {
		f.s.mu.Lock()
		defer f.s.mu.Unlock()
		return f.s.flushing && f.s.flushIdle
	}
	send := func(i, size int) {
		t.Helper()
		pm, err := NewPreparedMessage(BinaryMessage, numbered(i, size))
		require.NoError(t, err)
		require.NoError(t, f.s.SendPrepared(pm))
	}
	noFlusher := func() bool { return flusherGoroutines() == 0 }

	send(0, 100)
	f.s.mu.Lock()
	flowing := f.s.sendsFlowing()
	f.s.mu.Unlock()
	assert.False(t, flowing, "one message queued is not a flow")
	assert.Equal(t, numbered(0, 100), f.read(t))
	require.Eventually(t, noFlusher, 5*time.Second, time.Millisecond, "a lone message's flusher exits")

	// The client is not reading: the first message fills the socket and
	// holds its flusher in the write while the second is queued.
	send(1, 1<<20)
	send(2, 100)
	assert.Equal(t, numbered(1, 1<<20), f.read(t))
	assert.Equal(t, numbered(2, 100), f.read(t))
	for i := 3; i < 6; i++ {
		require.Eventually(t, idle, 5*time.Second, time.Millisecond, "the flusher exited although sends flow")
		require.Equal(t, 1, flusherGoroutines())
		send(i, 100)
		assert.Equal(t, numbered(i, 100), f.read(t))
	}

	require.Eventually(t, idle, 5*time.Second, time.Millisecond)
	// Two keepalive ticks: the first sees the sends and keeps the
	// flusher (the goroutine's own ticks may come in between, so this
	// is not asserted), the second finds none and lets it go.
	f.s.flusherQuiet()
	f.s.flusherQuiet()
	require.Eventually(t, noFlusher, 5*time.Second, time.Millisecond)

	send(7, 1<<20)
	send(8, 100)
	assert.Equal(t, numbered(7, 1<<20), f.read(t))
	assert.Equal(t, numbered(8, 100), f.read(t))
	require.Eventually(t, idle, 5*time.Second, time.Millisecond)
	f.client.CloseNow()
	f.ev.waitClosed(t, 10*time.Second) // OnClose waits for the lingering flusher, which the end wakes
	require.Zero(t, flusherGoroutines())
}
