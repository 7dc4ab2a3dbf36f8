package tornago_test

// Bad input and faults while messages flow (limits, writes, pings), each
// over real TCP against an Application served by Application.Serve.

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/rawpeer"
	"github.com/tornago/tornago/websocket"
)

func TestWSFaultMaxMessageSize(t *testing.T) {
	t.Parallel()
	settingsProbe := newProbe()
	handlerProbe := newProbe()
	handlerProbe.open = func(h *faultSocket, _ ...string) error {
		h.SetMaxMessageSize(100)
		return nil
	}
	a := serveWS(t, tornago.Settings{WebSocketMaxMessageSize: 1024},
		settingsProbe.route("/settings"), handlerProbe.route("/handler"))
	for _, tc := range []struct {
		path  string
		limit int
	}{{"/settings", 1024}, {"/handler", 100}} {
		t.Run(tc.path, func(t *testing.T) {
			c := dial(t, a.url(tc.path), nil)
			at := bytes.Repeat([]byte("a"), tc.limit)
			require.NoError(t, c.WriteMessage(context.Background(), websocket.BinaryMessage, at))
			_, got, err := c.ReadMessage(context.Background())
			require.NoError(t, err)
			assert.Len(t, got, tc.limit, "a message of exactly the limit passes")
			require.NoError(t, c.WriteMessage(context.Background(), websocket.BinaryMessage, append(at, 'b')))
			code, _, err := readUntilClose(c, 5*time.Second)
			require.NoError(t, err)
			assert.Equal(t, websocket.StatusMessageTooBig, code)
		})
	}
	settingsProbe.waitCloses(t, 1, 5*time.Second)
	handlerProbe.waitCloses(t, 1, 5*time.Second)
}

// TestWSFaultSlowReaderClosedBySendQueue: a client that stops reading while
// the server writes is closed once its send queue overflows; the writer
// gets ErrSendQueueFull, server memory stays bounded, others go on.
func TestWSFaultSlowReaderClosedBySendQueue(t *testing.T) {
	const queue = 64 << 10
	for _, tc := range []struct {
		name     string
		settings tornago.Settings
		perConn  bool
	}{
		{"Settings.WebSocketSendQueueSize", tornago.Settings{WebSocketSendQueueSize: queue}, false},
		{"SetSendQueueSize", tornago.Settings{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProbe()
			p.opened = make(chan *faultSocket, 2)
			p.open = func(h *faultSocket, _ ...string) error {
				if tc.perConn {
					h.SetSendQueueSize(queue)
				}
				return nil
			}
			a := serveWS(t, tc.settings, p.route("/ws"))
			slow := dial(t, a.url("/ws"), nil) // never reads until the end
			h := p.nextOpened(t)
			other := dial(t, a.url("/ws"), nil)
			p.nextOpened(t)

			chunk := bytes.Repeat([]byte{0xab}, 16<<10)
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			base, peak := ms.HeapInuse, ms.HeapInuse
			// The writer is paced so that the flusher keeps the queue short
			// until the kernel's buffers are full: then only the slow reader
			// can be the reason the queue overflows.
			accepted := 0
			var err error
			for i := 0; i < 20000; i++ { // up to 320 MiB if nothing stopped it
				if err = h.WriteMessage(chunk, true); err != nil {
					break
				}
				accepted += len(chunk)
				if i%32 == 0 {
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapInuse)
				}
				time.Sleep(200 * time.Microsecond)
			}
			require.Error(t, err, "the queue never overflowed")
			assert.ErrorIs(t, err, tornago.ErrSendQueueFull)
			assert.ErrorIs(t, err, tornago.ErrClosed)
			assert.ErrorIs(t, h.WriteMessage([]byte("late"), false), tornago.ErrClosed)
			t.Logf("accepted %d KiB before the overflow; heap in use grew by at most %d KiB", accepted>>10, (peak-base)>>10)
			assert.Less(t, accepted, 32<<20, "only the kernel's buffers and the queue may fill")
			assert.Less(t, peak-base, uint64(48<<20), "server memory must stay bounded")

			p.waitCloses(t, 1, 5*time.Second)
			code, reason, rerr := readUntilClose(slow, 10*time.Second)
			if rerr == nil {
				assert.Equal(t, websocket.StatusPolicyViolation, code)
				assert.Contains(t, reason, "send queue")
			} else {
				assert.ErrorIs(t, rerr, websocket.ErrClosed, "dropped connection")
				t.Logf("slow client saw a dropped connection: %v", rerr)
			}

			// The other connection is unaffected.
			sendText(t, other, "still here")
			assert.Equal(t, "still here", readText(t, other))
			require.NoError(t, other.Close(websocket.StatusNormalClosure, ""))
			a.shutdown(t)
			assert.Equal(t, int32(2), p.closes.Load())
		})
	}
}

func TestWSFaultVanishedPeerPingTimeout(t *testing.T) {
	t.Parallel()
	p := newProbe()
	live := newProbe()
	live.open = func(h *faultSocket, _ ...string) error {
		// Pinged as often, but with room for a test machine under load.
		h.SetPingInterval(100*time.Millisecond, 2*time.Second)
		return nil
	}
	a := serveWS(t, tornago.Settings{WebSocketPingInterval: 100 * time.Millisecond}, p.route("/ws"), live.route("/live"))
	start := time.Now()
	ws := rawpeer.Dial(t, a.Addr, "/ws", nil) // completes the handshake, then plays dead
	p.waitCloses(t, 1, 3*time.Second)
	elapsed := time.Since(start)
	t.Logf("OnClose %v after the handshake", elapsed)
	assert.GreaterOrEqual(t, elapsed, 200*time.Millisecond, "ping interval + timeout")
	assert.Less(t, elapsed, 2*time.Second)
	code, reason, before := ws.ReadClose()
	assert.Equal(t, uint16(1000), code)
	assert.Equal(t, "ping timed out", reason)
	require.NotEmpty(t, before)
	assert.Equal(t, rawpeer.OpPing, before[0], "pinged first")
	info := <-p.closeInfo
	assert.Equal(t, closeInfo{}, info, "the peer sent no close frame")

	// A peer that answers pings stays.
	var pings atomic.Int32
	c := dial(t, a.url("/live"), &websocket.DialOptions{ConnOptions: websocket.ConnOptions{
		OnPing: func([]byte) { pings.Add(1) }}})
	done := make(chan error, 1)
	go func() {
		_, _, err := c.ReadMessage(context.Background()) // answers pings
		done <- err
	}()
	// 25 pings 100 ms apart outlast the 2 s timeout: a server that did
	// not count the answers would have closed the connection by then.
	require.Eventually(t, func() bool { return pings.Load() >= 25 || live.closes.Load() > 0 },
		20*time.Second, 10*time.Millisecond, "pinged %d times", pings.Load())
	assert.Zero(t, live.closes.Load(), "a live peer is not timed out")
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	<-done
}

func TestWSFaultPingAnsweredWhileOnMessageBlocks(t *testing.T) {
	t.Parallel()
	p := newProbe()
	inMessage, release := make(chan struct{}), make(chan struct{})
	p.message = func(h *faultSocket, m tornago.Message) error {
		if m.Text() == "slow" {
			close(inMessage)
			<-release // until the pong has arrived
		}
		return h.WriteMessage(m.Data, m.Binary)
	}
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	pongs := make(chan time.Time, 1)
	c := dial(t, a.url("/ws"), &websocket.DialOptions{ConnOptions: websocket.ConnOptions{
		OnPong: func([]byte) { pongs <- time.Now() }}})
	msgs := make(chan string, 2)
	go func() {
		defer close(msgs)
		for {
			_, b, err := c.ReadMessage(context.Background())
			if err != nil {
				return
			}
			msgs <- string(b)
		}
	}()
	sendText(t, c, "slow")
	<-inMessage
	sent := time.Now()
	require.NoError(t, c.Ping(context.Background(), []byte("you there?")))
	select {
	case got := <-pongs: // OnMessage cannot return before this
		t.Logf("pong after %v", got.Sub(sent))
	case <-time.After(10 * time.Second):
		t.Fatal("no pong while OnMessage was blocked")
	}
	close(release)
	select {
	case m := <-msgs:
		assert.Equal(t, "slow", m)
	case <-time.After(5 * time.Second):
		t.Fatal("no echo")
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	for range msgs {
	}
}

func TestWSFaultConcurrentWritesArriveInOrder(t *testing.T) {
	t.Parallel()
	const writers, perWriter = 16, 625
	p := newProbe()
	p.opened = make(chan *faultSocket, 1)
	// The queue is large enough that a reader slowed by -race never
	// overflows it: this test is about concurrency, not back-pressure.
	a := serveWS(t, tornago.Settings{WebSocketSendQueueSize: 64 << 20}, p.route("/ws"))
	c := dial(t, a.url("/ws"), nil)
	h := p.nextOpened(t)

	payload := func(g, i int) []byte {
		return bytes.Repeat([]byte{byte('a' + g)}, (i*37+g)%300)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for g := range writers {
		wg.Go(func() {
			for i := range perWriter {
				msg := append([]byte(fmt.Sprintf("%02d %04d ", g, i)), payload(g, i)...)
				if err := h.WriteMessage(msg, i%3 == 0); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	next := make([]int, writers)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for n := range writers * perWriter {
		typ, b, err := c.ReadMessage(ctx)
		require.NoError(t, err, "message %d", n)
		var g, i int
		_, err = fmt.Sscanf(string(b[:8]), "%02d %04d", &g, &i)
		require.NoError(t, err, "message %d: %q", n, b[:min(len(b), 20)])
		require.Equal(t, next[g], i, "writer %d out of order", g)
		next[g]++
		require.Equal(t, payload(g, i), b[8:], "message %d/%d corrupted", g, i)
		wantTyp := websocket.TextMessage
		if i%3 == 0 {
			wantTyp = websocket.BinaryMessage
		}
		require.Equal(t, wantTyp, typ)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	p.waitCloses(t, 1, 5*time.Second)
}

func TestWSFaultFlush(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.opened = make(chan *faultSocket, 2)
	a := serveWS(t, tornago.Settings{WebSocketSendQueueSize: 64 << 20}, p.route("/ws"))
	c := dial(t, a.url("/ws"), nil)
	h := p.nextOpened(t)
	big := bytes.Repeat([]byte{1}, 512<<10)
	const n = 48 // 24 MiB: more than loopback's socket buffers hold
	for range n {
		require.NoError(t, h.WriteMessage(big, true))
	}
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, h.Flush(short), context.DeadlineExceeded, "the client reads nothing, so Flush must wait")

	flushed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		flushed <- h.Flush(ctx)
	}()
	for range n {
		_, b, err := c.ReadMessage(context.Background())
		require.NoError(t, err)
		require.Len(t, b, len(big))
	}
	assert.NoError(t, <-flushed)
	assert.NoError(t, h.Flush(context.Background()), "nothing queued")

	// A Flush waiting when the connection drops fails with ErrClosed.
	c2 := dial(t, a.url("/ws"), nil)
	h2 := p.nextOpened(t)
	for range n {
		require.NoError(t, h2.WriteMessage(big, true))
	}
	go func() { flushed <- h2.Flush(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, c2.CloseNow())
	select {
	case err := <-flushed:
		assert.ErrorIs(t, err, tornago.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Flush still waiting after the connection dropped")
	}

	// After close every write fails with ErrClosed.
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	p.waitCloses(t, 2, 5*time.Second)
	for name, err := range map[string]error{
		"WriteMessage": h.WriteMessage([]byte("x"), false),
		"WriteText":    h.WriteText("x"),
		"WriteJSON":    h.WriteJSON(map[string]int{"x": 1}),
		"Ping":         h.Ping(nil),
		"WritePrepared": func() error {
			pm, err := websocket.NewPreparedMessage(websocket.TextMessage, []byte("x"))
			require.NoError(t, err)
			return h.WritePrepared(pm)
		}(),
	} {
		assert.ErrorIs(t, err, tornago.ErrClosed, name)
	}
	assert.NoError(t, h.Close(1000, ""), "Close again does nothing")
}

func TestWSFaultInvalidWrites(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.opened = make(chan *faultSocket, 1)
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	c := dial(t, a.url("/ws"), nil)
	h := p.nextOpened(t)
	bad := []byte{'h', 'i', 0xff, 0xfe}
	err := h.WriteMessage(bad, false)
	require.Error(t, err, "text must be UTF-8")
	assert.NotErrorIs(t, err, tornago.ErrClosed)
	require.Error(t, h.WriteText(string(bad)))
	require.Error(t, h.WriteJSON(func() {}))
	require.Error(t, h.Ping(make([]byte, 126)))
	require.Error(t, h.Close(1005, ""), "1005 may not be sent")
	require.Error(t, h.Close(999, ""))
	// The connection is still fine, and the same bytes go as binary.
	require.NoError(t, h.WriteMessage(bad, true))
	typ, got, err := c.ReadMessage(context.Background())
	require.NoError(t, err)
	assert.Equal(t, websocket.BinaryMessage, typ)
	assert.Equal(t, bad, got)
	_, err = tornago.Broadcast([]*faultSocket{h}, bad, false)
	require.Error(t, err)
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
}

func TestWSFaultBroadcast(t *testing.T) {
	const n = 100
	p := newProbe()
	p.opened = make(chan *faultSocket, n)
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	conns := make([]*websocket.Conn, n)
	handlers := make([]*faultSocket, n)
	for i := range n {
		conns[i] = dial(t, a.url("/ws"), nil)
		handlers[i] = p.nextOpened(t)
	}
	msg := bytes.Repeat([]byte{0xe9}, 128<<10)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	sent, err := tornago.Broadcast(handlers, msg, true)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	assert.Equal(t, n, sent)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("Broadcast of 128 KiB to %d handlers allocated %d KiB", n, allocated>>10)
	assert.Less(t, allocated, uint64(2<<20), "the frame is encoded once, not per handler (that would be 12.5 MiB)")

	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			typ, got, err := c.ReadMessage(context.Background())
			if assert.NoError(t, err, "client %d", i) {
				assert.Equal(t, websocket.BinaryMessage, typ)
				assert.True(t, bytes.Equal(msg, got), "client %d got a different message", i)
			}
		})
	}
	wg.Wait()

	// Closed targets are skipped without an error.
	require.NoError(t, conns[7].Close(websocket.StatusNormalClosure, ""))
	p.waitCloses(t, 1, 5*time.Second)
	sent, err = tornago.Broadcast(handlers, []byte("again"), false)
	require.NoError(t, err)
	assert.Equal(t, n-1, sent)
	for i, c := range conns {
		if i != 7 {
			assert.Equal(t, "again", readText(t, c))
		}
	}
}

func TestWSFaultPingPongHooks(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.opened = make(chan *faultSocket, 1)
	pings, pongs := make(chan string, 1), make(chan string, 1)
	p.onPing = func(b []byte) { pings <- string(b) }
	p.onPong = func(b []byte) { pongs <- string(b) }
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	c := dial(t, a.url("/ws"), nil)
	h := p.nextOpened(t)
	done := make(chan error, 1)
	go func() {
		_, _, err := c.ReadMessage(context.Background()) // answers the server's ping
		done <- err
	}()
	require.NoError(t, h.Ping([]byte("from server")))
	require.NoError(t, c.Ping(context.Background(), []byte("from client")))
	for name, ch := range map[string]chan string{"from server": pongs, "from client": pings} {
		select {
		case got := <-ch:
			assert.Equal(t, name, got)
		case <-time.After(5 * time.Second):
			t.Fatalf("no OnPing/OnPong with %q", name)
		}
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	<-done
}

// TestWSFaultCloseRacesWriters: Close while 16 goroutines write never
// panics; every write either succeeds or fails with ErrClosed, and the
// client gets each writer's accepted messages in order, then the close.
func TestWSFaultCloseRacesWriters(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.opened = make(chan *faultSocket, 1)
	a := serveWS(t, tornago.Settings{WebSocketSendQueueSize: 64 << 20}, p.route("/ws"))
	c := dial(t, a.url("/ws"), nil)
	h := p.nextOpened(t)
	const writers = 16
	accepted := make([]int, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range writers {
		wg.Go(func() {
			<-start
			for i := 0; ; i++ {
				err := h.WriteText(fmt.Sprintf("%02d %06d", g, i))
				if err != nil {
					assert.ErrorIs(t, err, tornago.ErrClosed)
					return
				}
				accepted[g]++
			}
		})
	}
	close(start)
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, h.Close(4005, "enough"))
	wg.Wait()

	next := make([]int, writers)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		_, b, err := c.ReadMessage(ctx)
		if err != nil {
			var ce *websocket.CloseError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, websocket.StatusCode(4005), ce.Code)
			break
		}
		var g, i int
		_, err = fmt.Sscanf(string(b), "%02d %06d", &g, &i)
		require.NoError(t, err)
		require.Equal(t, next[g], i, "writer %d", g)
		next[g]++
	}
	assert.Equal(t, accepted, next, "every accepted message arrived before the close")
	p.waitCloses(t, 1, 5*time.Second)
}
