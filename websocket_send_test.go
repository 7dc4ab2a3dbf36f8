package tornago

// WriteMessage's direct write (issue 8), tested from inside the package so
// that the tests can see the send queue and shrink the server's socket
// buffer. Everything goes over loopback TCP.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/websocket"
)

// sendSocket is a handler that does nothing by itself; the tests drive its
// writes.
type sendSocket struct {
	WebSocketHandler
	opened chan *sendSocket
	closed chan struct{}
}

func (h *sendSocket) Open(args ...string) error {
	h.opened <- h
	return nil
}

func (h *sendSocket) OnClose() { close(h.closed) }

// sendFixture is one connection to a sendSocket.
type sendFixture struct {
	h      *sendSocket
	client *websocket.Conn
	events *eventLog // what the client saw, in order
}

// eventLog records, in order, the messages and pings a client reads.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(e string) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

// newSendFixture serves a sendSocket and connects a client to it. A
// non-zero buf shrinks the server's send buffer and the client's receive
// buffer, so that a client that stops reading soon fills them.
func newSendFixture(t *testing.T, settings Settings, buf int) *sendFixture {
	t.Helper()
	opened := make(chan *sendSocket, 1)
	closed := make(chan struct{})
	addr := serveSendApp(t, settings, func() Handler {
		return &sendSocket{opened: opened, closed: closed}
	})

	f := &sendFixture{events: &eventLog{}}
	opts := &websocket.DialOptions{ConnOptions: websocket.ConnOptions{
		OnPing: func(p []byte) { f.events.add("ping " + string(p)) },
	}}
	if buf > 0 {
		opts.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			nc, err := d.DialContext(ctx, network, addr)
			if err == nil {
				err = nc.(*net.TCPConn).SetReadBuffer(buf)
			}
			return nc, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	f.client, _, err = websocket.Dial(ctx, "ws://"+addr+"/ws", opts)
	require.NoError(t, err)
	t.Cleanup(func() { f.client.CloseNow() })
	select {
	case f.h = <-opened:
	case <-time.After(5 * time.Second):
		t.Fatal("no handler opened")
	}
	require.Eventually(t, func() bool { return f.h.ws.connection() != nil }, 5*time.Second, time.Millisecond)
	if buf > 0 {
		require.NoError(t, f.h.ws.connection().NetConn().(*net.TCPConn).SetWriteBuffer(buf))
	}
	return f
}

// serveSendApp serves handler at /ws on a loopback listener until the
// test ends and returns the address.
func serveSendApp(t *testing.T, settings Settings, handler func() Handler) string {
	t.Helper()
	settings.Logger = slog.New(slog.DiscardHandler)
	app, err := NewApplication([]Route{{Pattern: "/ws", Handler: handler}}, settings)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- app.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		assert.NoError(t, app.Shutdown(ctx))
		assert.NoError(t, <-served)
	})
	return ln.Addr().String()
}

// queueState reports what the send queue holds: whether its first item is
// the rest of a frame the socket took in part, how many items, and how
// many bytes.
func (f *sendFixture) queueState() (pending bool, items, bytes int) {
	s := &f.h.ws
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue) > 0 && s.queue[0].isPending(), len(s.queue), s.queued
}

// read reads one message and records it.
func (f *sendFixture) read(t *testing.T) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := f.client.ReadMessage(ctx)
	require.NoError(t, err)
	f.events.add(fmt.Sprintf("message %d", len(b)))
	return b
}

// numbered is message i: its number followed by filler, n bytes in all.
func numbered(i, n int) []byte {
	b := fmt.Appendf(nil, "%06d ", i)
	return append(b, bytes.Repeat([]byte{byte('a' + i%26)}, n-len(b))...)
}

// TestWebSocketSendInlineAllocatesNothing: a message the socket takes
// whole is written on the caller's goroutine without a copy, a queue
// entry or a flusher.
func TestWebSocketSendInlineAllocatesNothing(t *testing.T) {
	f := newSendFixture(t, Settings{}, 0)
	msg := numbered(1, 64)
	const runs = 100 // 6.6 KB: the socket buffers take it all
	allocs := testing.AllocsPerRun(runs, func() {
		if err := f.h.WriteMessage(msg, true); err != nil {
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
	assert.NoError(t, f.h.Flush(cancelled), "a message written whole counts as sent")
	for range runs + 1 {
		assert.Equal(t, msg, f.read(t))
	}
}

// TestWebSocketSendPartialWriteThenQueue: against a client that stops
// reading, writes go out whole until the socket takes part of one; the
// rest of that frame is queued, later messages and pings queue behind it,
// Flush waits for all of it, and the client gets everything whole and in
// order once it reads again.
func TestWebSocketSendPartialWriteThenQueue(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, Settings{WebSocketSendQueueSize: 4 << 20}, 16384)
	const size = 10007
	var want []string
	whole := 0
	for i := 0; ; i++ {
		require.Less(t, i, 2000, "the socket never took part of a frame")
		require.NoError(t, f.h.WriteMessage(numbered(i, size), true))
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
	require.NoError(t, f.h.Ping([]byte("p1")))
	want = append(want, "ping p1")
	for i := range 3 {
		require.NoError(t, f.h.WriteMessage(numbered(n+i, size), true))
		want = append(want, fmt.Sprintf("message %d", size))
	}
	require.NoError(t, f.h.Ping([]byte("p2")))
	want = append(want, "ping p2")
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, f.h.Flush(short), context.DeadlineExceeded, "the client reads nothing, so Flush waits")

	flushed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		flushed <- f.h.Flush(ctx)
	}()
	for i := range n + 3 {
		got := f.read(t)
		require.Equal(t, numbered(i, size), got, "message %d", i)
	}
	require.NoError(t, <-flushed)
	// The second ping arrives with the next read.
	require.NoError(t, f.h.WriteMessage([]byte("last"), false))
	assert.Equal(t, []byte("last"), f.read(t))
	want = append(want, "message 4")
	assert.Equal(t, want, f.events.list())
	pending, items, queued := f.queueState()
	assert.False(t, pending)
	assert.Zero(t, items)
	assert.Zero(t, queued)
}

// TestWebSocketSendOrderAcrossInlineAndQueued: many goroutines write and
// ping at once against a client that reads slowly through small buffers,
// so writes go out whole, in part and through the queue; every writer's
// messages arrive whole and in order.
func TestWebSocketSendOrderAcrossInlineAndQueued(t *testing.T) {
	t.Parallel()
	const writers, perWriter = 8, 150
	f := newSendFixture(t, Settings{WebSocketSendQueueSize: 64 << 20}, 32768)
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
					err = f.h.WriteMessage(payload(g, i), true)
				} else {
					var pm *websocket.PreparedMessage
					if pm, err = NewPreparedMessage(payload(g, i), true); err == nil {
						err = f.h.WritePrepared(pm)
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
			if err := f.h.Ping([]byte{byte('0' + i%10)}); err != nil {
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
	require.NoError(t, f.h.Flush(ctx))
	t.Logf("a remainder was queued after %d of the writes", partial)
}

// TestWebSocketSendQueueOverflowAfterPartialWrite: with the rest of a
// frame pending and the queue filling behind it, overflow still fails the
// write with ErrSendQueueFull and closes with 1008; a client that reads
// again gets every message it was sent whole, then the close frame.
func TestWebSocketSendQueueOverflowAfterPartialWrite(t *testing.T) {
	t.Parallel()
	const queue = 64 << 10
	f := newSendFixture(t, Settings{WebSocketSendQueueSize: queue}, 16384)
	const size = 8000
	accepted := 0
	var err error
	for ; accepted < 10000; accepted++ {
		if err = f.h.WriteMessage(numbered(accepted, size), true); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, ErrSendQueueFull)
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, f.h.WriteMessage([]byte("late"), true), ErrClosed)
	assert.Less(t, accepted*size, 4<<20, "only the socket buffers and the queue may fill")

	// The client reads again: whole messages in order, then 1008 (the
	// abort has a second to finish the pending frame and send it), or
	// a dropped connection if the abort's second ran out.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := 0
	for {
		_, b, err := f.client.ReadMessage(ctx)
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				assert.Equal(t, websocket.StatusPolicyViolation, ce.Code)
				t.Logf("%d messages accepted, %d read before the close frame", accepted, got)
			} else {
				require.ErrorIs(t, err, websocket.ErrClosed)
				t.Logf("%d messages accepted, %d read before the connection dropped: %v", accepted, got, err)
			}
			break
		}
		require.Equal(t, numbered(got, size), b, "message %d", got)
		got++
	}
	assert.LessOrEqual(t, got, accepted)
	select {
	case <-f.h.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose did not run")
	}
}

// maxFrameHeader is the longest header of a server's frame.
const maxFrameHeader = 10
