package tornago_test

// OnClose is the last thing a connection does: it runs after the last
// OnMessage has returned and after the goroutine writing the send queue
// has stopped, so a handler may tear down in OnClose what those use.

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/websocket"
)

// gatedConn is the server's side of a connection whose writes, once the
// gate is armed, block until the test releases them, even after the
// connection is closed (so a writer outlives the reader's end), and which
// reports its closing.
type gatedConn struct {
	net.Conn
	armed    atomic.Bool
	release  chan struct{}
	blocked  chan struct{} // closed when a write first waits at the gate
	returned atomic.Bool   // a gated write has returned
	closed   chan struct{} // closed by Close
	once     sync.Once
	closeOne sync.Once
}

func newGatedConn(nc net.Conn) *gatedConn {
	return &gatedConn{Conn: nc, release: make(chan struct{}), blocked: make(chan struct{}), closed: make(chan struct{})}
}

func (c *gatedConn) Write(b []byte) (int, error) {
	if !c.armed.Load() {
		return c.Conn.Write(b)
	}
	c.once.Do(func() { close(c.blocked) })
	<-c.release
	defer c.returned.Store(true)
	return c.Conn.Write(b)
}

func (c *gatedConn) Close() error {
	c.closeOne.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// gatedWriter hands the connection it hijacks to conns as a gatedConn.
type gatedWriter struct {
	http.ResponseWriter
	conns chan<- *gatedConn
}

func (w gatedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	g := newGatedConn(nc)
	w.conns <- g
	return g, brw, nil
}

// serveGated serves p's handlers at /ws with their connections gated,
// and dials one; it returns the client, the handler and its connection.
func serveGated(t *testing.T, p *probe) (*websocket.Conn, *faultSocket, *gatedConn) {
	t.Helper()
	p.opened = make(chan *faultSocket, 1)
	app, err := tornago.NewApplication([]tornago.Route{p.route("/ws")}, tornago.Settings{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, app.Shutdown(ctx))
	})
	conns := make(chan *gatedConn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		app.ServeHTTP(gatedWriter{ResponseWriter: w, conns: conns}, r)
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+srv.Listener.Addr().String()+"/ws", nil)
	require.NoError(t, err)
	t.Cleanup(func() { c.CloseNow() })
	return c, p.nextOpened(t), <-conns
}

// graceForDefect is how long a test gives OnClose to run too early before
// it releases what OnClose must wait for. A correct implementation never
// runs it in this time, so this wait decides nothing in a passing run; it
// only lets a defective one show itself.
const graceForDefect = 200 * time.Millisecond

// waitClosed waits for ch, or fails the test.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal(what)
	}
}

// TestWSOnCloseAfterLastOnMessage: the peer drops the connection while
// OnMessage runs; OnClose waits until that OnMessage has returned.
func TestWSOnCloseAfterLastOnMessage(t *testing.T) {
	t.Parallel()
	p := newProbe()
	var inMessage atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	p.message = func(h *faultSocket, m tornago.Message) error {
		inMessage.Store(true)
		close(entered)
		<-release
		inMessage.Store(false)
		return nil
	}
	closed := make(chan struct{})
	var duringMessage atomic.Bool
	p.onClose = func(h *faultSocket) {
		duringMessage.Store(inMessage.Load())
		close(closed)
	}
	c, _, g := serveGated(t, p)
	sendText(t, c, "hold on")
	waitClosed(t, entered, "OnMessage did not run")
	require.NoError(t, c.CloseNow())
	waitClosed(t, g.closed, "the server did not see the connection end")

	select {
	case <-closed:
		t.Error("OnClose ran while OnMessage was still running")
	case <-time.After(graceForDefect):
	}
	close(release)
	waitClosed(t, closed, "OnClose did not run")
	assert.False(t, duringMessage.Load(), "OnClose saw OnMessage still running")
}

// TestWSOnCloseAfterFlusher: the peer drops the connection while the send
// queue's writer is stuck in a write; OnClose waits until that write has
// returned and the writer has stopped.
func TestWSOnCloseAfterFlusher(t *testing.T) {
	t.Parallel()
	p := newProbe()
	closed := make(chan struct{})
	var writeReturned atomic.Bool
	var g *gatedConn
	p.onClose = func(h *faultSocket) {
		writeReturned.Store(g.returned.Load())
		close(closed)
	}
	c, h, gc := serveGated(t, p)
	g = gc
	g.armed.Store(true)
	// Not a TCP connection to the core, so the write goes through the
	// queue and its writer goroutine, which the gate holds.
	require.NoError(t, h.WriteText("held at the gate"))
	waitClosed(t, g.blocked, "the queued message was not written")
	require.NoError(t, c.CloseNow())
	waitClosed(t, g.closed, "the server did not see the connection end")

	select {
	case <-closed:
		t.Error("OnClose ran while the send queue's writer was still writing")
	case <-time.After(graceForDefect):
	}
	close(g.release)
	waitClosed(t, closed, "OnClose did not run")
	assert.True(t, writeReturned.Load(), "OnClose ran before the writer's write returned")
}
