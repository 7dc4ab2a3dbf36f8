package tornago

// The handler's write path over loopback TCP, from inside the package so
// that the tests can shrink the server's socket buffer. The session's own
// send tests (the direct write of issue 8, the queue behind it) are in
// websocket/session_send_test.go.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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

	f := &sendFixture{}
	opts := &websocket.DialOptions{}
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
	require.Eventually(t, func() bool { return f.h.connection() != nil }, 5*time.Second, time.Millisecond)
	if buf > 0 {
		require.NoError(t, f.h.connection().NetConn().(*net.TCPConn).SetWriteBuffer(buf))
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

// numbered is message i: its number followed by filler, n bytes in all.
func numbered(i, n int) []byte {
	b := fmt.Appendf(nil, "%06d ", i)
	return append(b, bytes.Repeat([]byte{byte('a' + i%26)}, n-len(b))...)
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

// prepareWriter writes in Prepare, before the connection has a session.
type prepareWriter struct {
	sendSocket
	prepareErr chan error
}

func (h *prepareWriter) Prepare() error {
	h.prepareErr <- h.WriteText("too early")
	return nil
}

// TestWebSocketWriteBeforeOpenFails: a write in Prepare, before Open,
// fails with ErrNotOpen (there is no session to queue it on yet), and the
// connection still opens.
func TestWebSocketWriteBeforeOpenFails(t *testing.T) {
	t.Parallel()
	opened := make(chan *sendSocket, 1)
	prepareErr := make(chan error, 1)
	addr := serveSendApp(t, Settings{}, func() Handler {
		return &prepareWriter{sendSocket{opened: opened, closed: make(chan struct{})}, prepareErr}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
	require.NoError(t, err)
	defer c.CloseNow()
	require.ErrorIs(t, <-prepareErr, ErrNotOpen)
	h := <-opened
	require.NoError(t, h.WriteText("after Open"))
	_, b, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	require.Equal(t, "after Open", string(b))
}
