package websocket

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shutDownAtEnd shuts g down when the test ends, and returns it.
func shutDownAtEnd(t *testing.T, g *Group) *Group {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		assert.NoError(t, g.Shutdown(ctx))
	})
	return g
}

// servePair starts a session's Serve over sc, the server's end of a
// connection, and returns the client on cc, the other end, and a channel
// closed when Serve returns.
func servePair(t *testing.T, g *Group, ev *testEvents, sc, cc net.Conn) (client *Conn, returned <-chan struct{}) {
	t.Helper()
	client = newConn(cc, nil, false, "", &ConnOptions{})
	t.Cleanup(func() { client.CloseNow() })
	s, err := g.NewSession(ev, SessionOptions{})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(newConn(sc, nil, true, "", &ConnOptions{}))
	}()
	return client, done
}

// TestSessionServeReturnsWhenParked: Serve reads on the caller's goroutine
// (the first message is handled before it returns) and returns once the
// connection has gone quiet and parked, while the session lives on: a
// later message still reaches OnMessage, and OnClose runs at the end.
func TestSessionServeReturnsWhenParked(t *testing.T) {
	if !pollerSupported {
		t.Skip("no poller on this system: Serve starts a reader and returns at once")
	}
	t.Parallel()
	g := shutDownAtEnd(t, &Group{})
	got := make(chan string, 2)
	ev := newTestEvents(func(m Message) error {
		got <- m.Text()
		return nil
	})
	sc, cc := tcpPair(t, 0)
	client, returned := servePair(t, g, ev, sc, cc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	require.NoError(t, client.WriteMessage(ctx, TextMessage, []byte("one")))
	select {
	case <-returned:
	case <-ctx.Done():
		t.Fatal("Serve did not return after the connection went quiet")
	}
	select {
	case m := <-got:
		assert.Equal(t, "one", m, "the first message, read before Serve returned")
	default:
		t.Fatal("Serve returned before its first message reached OnMessage")
	}
	select {
	case <-ev.closed:
		t.Fatal("OnClose ran: Serve should have returned with the session still open")
	default:
	}

	require.NoError(t, client.WriteMessage(ctx, TextMessage, []byte("two")))
	select {
	case m := <-got:
		assert.Equal(t, "two", m, "a message after Serve returned, read by the poller's wake")
	case <-ctx.Done():
		t.Fatal("the parked session did not read its next message")
	}
	require.NoError(t, client.Close(StatusNormalClosure, ""))
	ev.waitClosed(t, 10*time.Second)
}

// TestSessionServeReturnsAfterOnClose: a connection that ends before it
// parks (a client that reconnects closes at once) ends on Serve's
// goroutine: OnClose has run by the time Serve returns.
func TestSessionServeReturnsAfterOnClose(t *testing.T) {
	if !pollerSupported {
		t.Skip("no poller on this system: Serve starts a reader and returns at once")
	}
	t.Parallel()
	g := shutDownAtEnd(t, &Group{})
	ev := newTestEvents(nil)
	sc, cc := tcpPair(t, 0)
	client, returned := servePair(t, g, ev, sc, cc)
	require.NoError(t, client.Close(StatusGoingAway, "reconnecting"))
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the connection ended")
	}
	select {
	case <-ev.closed:
	default:
		t.Fatal("Serve returned before OnClose ran")
	}
}

// TestSessionServeStartsAReaderWhenItCannotPark: a connection the poller
// cannot wait for (here net.Pipe; TLS and HTTP/2 streams alike) would
// keep the caller's goroutine for its whole life, so Serve starts its
// reader as Start does and returns before anything is read; the session
// serves the connection all the same.
func TestSessionServeStartsAReaderWhenItCannotPark(t *testing.T) {
	t.Parallel()
	g := shutDownAtEnd(t, &Group{})
	got := make(chan string, 1)
	ev := newTestEvents(func(m Message) error {
		got <- m.Text()
		return nil
	})
	sc, cc := net.Pipe()
	client, returned := servePair(t, g, ev, sc, cc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case <-returned:
	case <-ctx.Done():
		t.Fatal("Serve kept the caller's goroutine for a connection that cannot park")
	}
	require.NoError(t, client.WriteMessage(ctx, TextMessage, []byte("one")))
	select {
	case m := <-got:
		assert.Equal(t, "one", m)
	case <-ctx.Done():
		t.Fatal("the session's own reader did not read")
	}
	require.NoError(t, client.Close(StatusNormalClosure, ""))
	ev.waitClosed(t, 10*time.Second)
}
