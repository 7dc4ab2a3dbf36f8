package websocket

// The session's test kit: a Session over an accepted connection without
// HTTP, on loopback TCP (where the reader can park in the poller and the
// socket buffers can be shrunk) or net.Pipe, and a client Conn at the
// other end; coder/websocket's wstest.Pipe is the model.

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testEvents records a session's events; nil hooks do nothing.
type testEvents struct {
	onMessage func(Message) error
	onPong    func([]byte)
	closed    chan struct{}
}

func newTestEvents(onMessage func(Message) error) *testEvents {
	return &testEvents{onMessage: onMessage, closed: make(chan struct{})}
}

func (e *testEvents) OnMessage(m Message) error {
	if e.onMessage != nil {
		return e.onMessage(m)
	}
	return nil
}

func (e *testEvents) OnPing([]byte) {}

func (e *testEvents) OnPong(p []byte) {
	if e.onPong != nil {
		e.onPong(p)
	}
}

func (e *testEvents) OnClose() { close(e.closed) }

// waitClosed fails the test unless OnClose runs within d.
func (e *testEvents) waitClosed(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-e.closed:
	case <-time.After(d):
		t.Fatal("OnClose did not run")
	}
}

// tcpPair returns the two ends of a loopback TCP connection. A non-zero
// buf shrinks the server's send buffer and the client's receive buffer,
// so that a client that stops reading soon fills them.
func tcpPair(t *testing.T, buf int) (server, client net.Conn) {
	t.Helper()
	client, server = loopbackPair(t)
	if buf > 0 {
		require.NoError(t, server.(*net.TCPConn).SetWriteBuffer(buf))
		require.NoError(t, client.(*net.TCPConn).SetReadBuffer(buf))
	}
	return server, client
}

// sessionFixture is a started session and the client at the other end.
type sessionFixture struct {
	g      *Group
	s      *Session
	ev     *testEvents
	client *Conn
	events *eventLog // what the client saw, in order
}

// newSessionFixture starts a session with opts and ev over loopback TCP
// (buf as for tcpPair), or over net.Pipe when pipe is set. The session's
// group is shut down when the test ends.
func newSessionFixture(t *testing.T, opts SessionOptions, ev *testEvents, buf int, pipe bool) *sessionFixture {
	t.Helper()
	if ev == nil {
		ev = newTestEvents(nil)
	}
	var sc, cc net.Conn
	if pipe {
		sc, cc = net.Pipe()
	} else {
		sc, cc = tcpPair(t, buf)
	}
	f := &sessionFixture{g: &Group{}, ev: ev, events: &eventLog{}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		assert.NoError(t, f.g.Shutdown(ctx))
	})
	f.client = newConn(cc, nil, false, "", &ConnOptions{
		OnPing: func(p []byte) { f.events.add("ping " + string(p)) },
	})
	t.Cleanup(func() { f.client.CloseNow() })
	s, err := f.g.NewSession(ev, opts)
	require.NoError(t, err)
	f.s = s
	s.Start(newConn(sc, nil, true, "", &ConnOptions{}))
	return f
}

// read reads one message and records it.
func (f *sessionFixture) read(t *testing.T) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := f.client.ReadMessage(ctx)
	require.NoError(t, err)
	f.events.add(fmt.Sprintf("message %d", len(b)))
	return b
}

// queueState reports what the send queue holds: whether its first item is
// the rest of a frame the socket took in part, how many items, and how
// many bytes.
func (f *sessionFixture) queueState() (pending bool, items, bytes int) {
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue) > 0 && s.queue[0].isPending(), len(s.queue), s.queued
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

// TestSessionOverPipeEchoesAndCloses: without HTTP or TCP, a session
// hands messages to OnMessage in order, sends from there, answers the
// peer's close, and runs OnClose once; a send after that fails with
// ErrClosed.
func TestSessionOverPipeEchoesAndCloses(t *testing.T) {
	t.Parallel()
	var f *sessionFixture
	f = newSessionFixture(t, SessionOptions{}, newTestEvents(func(m Message) error {
		typ := TextMessage
		if m.Binary {
			typ = BinaryMessage
		}
		return f.s.Send(typ, m.Data)
	}), 0, true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 20 {
		go func() { _ = f.client.WriteMessage(ctx, TextMessage, fmt.Appendf(nil, "m%d", i)) }()
		_, b, err := f.client.ReadMessage(ctx)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("m%d", i), string(b))
	}
	closed := make(chan error, 1)
	go func() { closed <- f.client.Close(StatusNormalClosure, "bye") }()
	f.ev.waitClosed(t, 10*time.Second)
	require.NoError(t, <-closed)
	assert.Equal(t, StatusNormalClosure, f.s.Conn().PeerClose().Code)
	assert.ErrorIs(t, f.s.Send(TextMessage, []byte("late")), ErrClosed)
}

// TestSessionSendBeforeStartAndCancel: what is sent before Start is
// queued and goes out right after it; Flush before Start says
// ErrNotStarted; Cancel on a session never started runs OnClose and
// releases the group's Shutdown.
func TestSessionSendBeforeStartAndCancel(t *testing.T) {
	t.Parallel()
	g := &Group{}
	ev := newTestEvents(nil)
	s, err := g.NewSession(ev, SessionOptions{})
	require.NoError(t, err)
	require.ErrorIs(t, s.Flush(context.Background()), ErrNotStarted)
	require.NoError(t, s.Send(TextMessage, []byte("early")))
	s.Cancel()
	ev.waitClosed(t, 5*time.Second)
	assert.ErrorIs(t, s.Send(TextMessage, []byte("late")), ErrClosed)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, g.Shutdown(ctx))
	_, err = g.NewSession(newTestEvents(nil), SessionOptions{})
	require.ErrorIs(t, err, ErrGroupClosed)

	// Started: the early message is the first the peer reads.
	sc, cc := net.Pipe()
	g2 := &Group{}
	ev2 := newTestEvents(nil)
	s2, err := g2.NewSession(ev2, SessionOptions{})
	require.NoError(t, err)
	require.NoError(t, s2.Send(TextMessage, []byte("early")))
	client := newConn(cc, nil, false, "", &ConnOptions{})
	defer client.CloseNow()
	s2.Start(newConn(sc, nil, true, "", &ConnOptions{}))
	_, b, err := client.ReadMessage(ctx)
	require.NoError(t, err)
	assert.Equal(t, "early", string(b))

	// Shutdown closes it with 1001 after its queue.
	require.NoError(t, s2.Send(TextMessage, []byte("queued")))
	shut := make(chan error, 1)
	go func() { shut <- g2.Shutdown(ctx) }()
	_, b, err = client.ReadMessage(ctx)
	require.NoError(t, err)
	assert.Equal(t, "queued", string(b))
	_, _, err = client.ReadMessage(ctx)
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, StatusGoingAway, ce.Code)
	require.NoError(t, <-shut)
	ev2.waitClosed(t, time.Second)
}

// TestSessionPingTimeout: a peer that never answers the session's pings
// is closed with 1000 "ping timed out", and OnClose runs.
func TestSessionPingTimeout(t *testing.T) {
	t.Parallel()
	f := newSessionFixture(t, SessionOptions{PingInterval: 20 * time.Millisecond, PingTimeout: 60 * time.Millisecond},
		nil, 0, false)
	// The client does not read, so it answers no ping.
	f.ev.waitClosed(t, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	for err == nil {
		_, _, err = f.client.ReadMessage(ctx)
	}
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, StatusNormalClosure, ce.Code)
	assert.Equal(t, "ping timed out", ce.Reason)
}

// TestQuietReaderParksAfterPong: a quiet connection's reader that a pong
// (or ping) woke asks to park at once, rather than staying in the read
// until the keepalive goroutine's next tick: with keepalive pings on, an
// idle connection would otherwise hold its reader for a tick in every
// ping interval.
func TestQuietReaderParksAfterPong(t *testing.T) {
	f := newSessionFixture(t, SessionOptions{}, nil, 0, false)
	s := f.s
	if !s.parkable {
		t.Skip("no poller on this platform")
	}
	state := func() (reading, requested bool) {
		s.readMu.Lock()
		defer s.readMu.Unlock()
		return s.reading, s.interrupt == interruptPark
	}
	require.Eventually(t, func() bool { r, _ := state(); return r }, 5*time.Second, time.Millisecond, "the reader reads at once")
	_, requested := state()
	require.False(t, requested, "nothing asked the reader to park yet")
	s.Conn().control.ponged(nil) // as the reader does on a pong
	reading, requested := state()
	assert.True(t, requested || !reading, "the pong's handler asked the quiet reader to park")
}
