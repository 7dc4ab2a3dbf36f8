package tornago_test

// Slow peers, bursts and endings that are not failures (issue 14), each
// over real TCP against an Application served by Application.Serve.

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/rawpeer"
	"github.com/tornago/tornago/websocket"
)

// room is a set of open handlers that Broadcast reaches.
type room struct {
	mu      sync.Mutex
	members map[*faultSocket]struct{}
}

func (r *room) join(h *faultSocket) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.members == nil {
		r.members = map[*faultSocket]struct{}{}
	}
	r.members[h] = struct{}{}
}

func (r *room) leave(h *faultSocket) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.members, h)
}

// relay sends data to every member, the frame encoded once.
func (r *room) relay(data []byte) error {
	r.mu.Lock()
	list := make([]tornago.PreparedWriter, 0, len(r.members))
	for h := range r.members {
		list = append(list, h)
	}
	r.mu.Unlock()
	_, err := tornago.Broadcast(list, data, true)
	return err
}

// roomProbe is a probe whose handlers join r in Open, leave in OnClose,
// and relay every message they receive to the whole room.
func roomProbe(r *room) *probe {
	p := newProbe()
	p.opened = make(chan *faultSocket, 1000)
	p.open = func(h *faultSocket, _ ...string) error {
		r.join(h)
		return nil
	}
	p.onClose = r.leave
	p.message = func(_ *faultSocket, m tornago.Message) error { return r.relay(m.Data) }
	return p
}

// TestWSBurstKeepsFastReaders relays a burst of three 600 KB messages from
// one member to a room of 200 fast readers, with the default settings:
// every reader gets all three and none is closed. Under the old 1 MiB
// send queue the burst closed 41 to 200 of them with 1008.
func TestWSBurstKeepsFastReaders(t *testing.T) {
	const members, burst, size = 200, 3, 600_000
	var r room
	p := roomProbe(&r)
	a := serveWS(t, tornago.Settings{}, p.route("/room"))
	conns := make([]*websocket.Conn, members)
	for i := range conns {
		conns[i] = dial(t, a.url("/room"), &websocket.DialOptions{ConnOptions: websocket.ConnOptions{ReadLimit: 1 << 20}})
		p.nextOpened(t)
	}
	attacker := dial(t, a.url("/room"), nil)
	p.nextOpened(t)

	payload := bytes.Repeat([]byte{'<'}, size)
	var wg sync.WaitGroup
	got := make([]int, members)
	errs := make([]error, members)
	for i, c := range conns {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			for range burst {
				_, data, err := c.ReadMessage(ctx)
				if err != nil {
					errs[i] = err
					return
				}
				if len(data) == size {
					got[i]++
				}
			}
		})
	}
	for range burst {
		require.NoError(t, attacker.WriteMessage(context.Background(), websocket.BinaryMessage, payload))
	}
	wg.Wait()
	for i := range conns {
		require.NoError(t, errs[i], "reader %d", i)
		require.Equal(t, burst, got[i], "reader %d", i)
	}
	assert.Zero(t, p.closes.Load(), "no fast reader was closed")
	// The attacker's own copies are drained here, then everyone leaves.
	for range burst {
		_, _, err := attacker.ReadMessage(context.Background())
		require.NoError(t, err)
	}
}

// dialStalled completes a WebSocket handshake on a socket with a tiny
// receive buffer and then never reads: a peer that has stopped draining.
func dialStalled(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = setReceiveBuffer(fd, 4096) })
		return errors.Join(err, serr)
	}}
	nc, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	return rawpeer.Upgrade(t, nc, path, nil).Conn // reads the 101 byte by byte: nothing after it
}

// TestWSStalledReadersClosedBySendTimeout broadcasts to 100 peers that
// never read and one that does. The stalled ones are closed once their
// queues have not moved for WebSocketSendTimeout, well before their queues
// fill; the reader keeps its connection and gets everything.
func TestWSStalledReadersClosedBySendTimeout(t *testing.T) {
	const stalled, frames, frameSize = 100, 24, 256 << 10
	const timeout = 300 * time.Millisecond
	var r room
	p := roomProbe(&r)
	logs := &logBuffer{}
	a := serveWS(t, tornago.Settings{
		WebSocketSendTimeout:   timeout,
		WebSocketSendQueueSize: 64 << 20, // so that only the timeout can close them
		Logger:                 newLogger(logs),
	}, p.route("/room"))
	for range stalled {
		dialStalled(t, a.Addr, "/room")
		p.nextOpened(t)
	}
	healthy := dial(t, a.url("/room"), nil)
	p.nextOpened(t)
	received := make(chan int, 1)
	go func() {
		n := 0
		for n < frames {
			if _, _, err := healthy.ReadMessage(context.Background()); err != nil {
				break
			}
			n++
		}
		received <- n
	}()

	chunk := bytes.Repeat([]byte{0x5a}, frameSize)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	start := time.Now()
	for i := range frames { // 6 MiB for each peer, far more than a stalled socket takes
		require.NoError(t, r.relay(chunk), "frame %d", i)
	}
	runtime.ReadMemStats(&ms)
	queuedHeap := int64(ms.HeapInuse) - int64(base)
	p.waitCloses(t, stalled, 30*time.Second)
	t.Logf("%d stalled peers closed %v after the first frame; heap grew %d KiB with 6 MiB queued for each",
		stalled, time.Since(start), queuedHeap>>10)
	assert.Less(t, queuedHeap, int64(64<<20), "queued frames are shared, not copied per peer (600 MiB)")
	select {
	case n := <-received:
		assert.Equal(t, frames, n, "the reading peer got every frame")
	case <-time.After(30 * time.Second):
		t.Fatal("the reading peer did not get every frame")
	}
	assert.Equal(t, int32(stalled), p.closes.Load(), "only the stalled peers were closed")
	assert.Contains(t, logs.String(), "send timeout")
	require.NoError(t, healthy.Close(websocket.StatusNormalClosure, ""))
}

// TestWSWriteToClosingPeerIsNotAFailure is the README's echo handler
// (return h.WriteMessage(...)) against 100 clients that send one message
// and close at once: the echo finds the connection closing, which is not
// a handler failure, so nothing is logged as an error and no 1011 is sent.
func TestWSWriteToClosingPeerIsNotAFailure(t *testing.T) {
	logs := &logBuffer{}
	p := newProbe()
	p.message = func(h *faultSocket, m tornago.Message) error {
		time.Sleep(time.Millisecond) // the close overtakes the echo
		return h.WriteMessage(m.Data, m.Binary)
	}
	a := serveWS(t, tornago.Settings{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, p.route("/echo"))
	for i := range 100 {
		c := dial(t, a.url("/echo"), nil)
		require.NoError(t, c.WriteMessage(context.Background(), websocket.TextMessage, []byte("hi")), "client %d", i)
		require.NoError(t, c.Close(websocket.StatusNormalClosure, "bye"))
	}
	p.waitCloses(t, 100, 20*time.Second)
	assert.Zero(t, strings.Count(logs.String(), "level=ERROR"), "ERROR lines logged")
	assert.Zero(t, strings.Count(logs.String(), "1011"), "lines about closing with 1011")
	for range 100 {
		assert.Equal(t, closeInfo{code: 1000, reason: "bye"}, <-p.closeInfo)
	}
}

// TestWSRefusedOpenEndsLikeAnyConnection refuses a connection in Open after
// the handler was stored elsewhere (as a room would keep it): OnClose runs,
// and writes to it fail with ErrClosed, the error a room drops members on.
func TestWSRefusedOpenEndsLikeAnyConnection(t *testing.T) {
	t.Parallel()
	kept := make(chan *faultSocket, 1)
	p := newProbe()
	p.open = func(h *faultSocket, _ ...string) error {
		kept <- h
		return tornago.HTTPError{Code: http.StatusForbidden}
	}
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	_, resp, err := websocket.Dial(context.Background(), a.url("/ws"), nil)
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	h := <-kept
	p.waitCloses(t, 1, 5*time.Second)
	assert.Equal(t, closeInfo{}, <-p.closeInfo, "no close code: the connection never opened")
	for range 3 {
		assert.ErrorIs(t, h.WriteMessage(bytes.Repeat([]byte("x"), 1<<20), true), tornago.ErrClosed)
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, []byte("x"))
	require.NoError(t, err)
	assert.ErrorIs(t, h.WritePrepared(pm), tornago.ErrClosed)
}
