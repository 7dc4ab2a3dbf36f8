package websocket

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parkedSession echoes messages and parks in a poller whenever it has
// nothing to read, as a server holding many idle connections would.
type parkedSession struct {
	c       *Conn
	p       *poller
	serveFn func() // s.serve, bound once
	parks   atomic.Int64
	ended   chan error
}

// park waits for the next message, or serves at once when that cannot.
func (s *parkedSession) park() {
	if s.p.Wait(s.c, s.serveFn) {
		s.parks.Add(1)
		return
	}
	s.serve()
}

// serve reads and echoes messages, parking when there is nothing to read.
func (s *parkedSession) serve() {
	for {
		typ, msg, err := s.c.ReadMessage(context.Background())
		if err != nil {
			s.c.CloseNow()
			s.ended <- err
			return
		}
		if err := s.c.WriteMessage(context.Background(), typ, msg); err != nil {
			s.c.CloseNow()
			s.ended <- err
			return
		}
		if s.p.Wait(s.c, s.serveFn) {
			s.parks.Add(1)
			return
		}
	}
}

// parkedServer accepts connections served by parkedSessions on p; the
// sessions arrive on the returned channel.
func parkedServer(t *testing.T, p *poller, tlsServer bool) (string, <-chan *parkedSession) {
	t.Helper()
	sessions := make(chan *parkedSession, 1024)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		s := &parkedSession{c: c, p: p, ended: make(chan error, 1)}
		s.serveFn = s.serve
		sessions <- s
		go s.park()
	})
	var srv *httptest.Server
	if tlsServer {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), sessions
}

func echoOnce(t *testing.T, c *Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.WriteMessage(ctx, TextMessage, []byte(msg)))
	_, got, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	require.Equal(t, msg, string(got))
}

func waitEnded(t *testing.T, s *parkedSession) error {
	t.Helper()
	select {
	case err := <-s.ended:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("a parked session was not woken")
		return nil
	}
}

func TestPollerIdleConnectionsHoldNoGoroutine(t *testing.T) {
	if !pollerSupported {
		t.Skip("no poller on this platform")
	}
	p := newPoller()
	defer p.Close()
	url, sessions := parkedServer(t, p, false)
	const n = 300
	before := runtime.NumGoroutine()
	clients := make([]*Conn, n)
	served := make([]*parkedSession, n)
	for i := range clients {
		clients[i] = dialT(t, url, nil)
		echoOnce(t, clients[i], fmt.Sprint("hello ", i))
		served[i] = <-sessions
	}
	// Every session is parked: no goroutine per connection remains
	// (the poller's own goroutine and the test server's are a few).
	require.Eventually(t, func() bool { return runtime.NumGoroutine()-before < 20 },
		5*time.Second, 10*time.Millisecond, "goroutines: %d before, %d with %d idle connections", before, runtime.NumGoroutine(), n)

	// Each one wakes for its next message, and parks again.
	for i, c := range clients {
		echoOnce(t, c, fmt.Sprint("again ", i))
	}
	for _, s := range served {
		assert.GreaterOrEqual(t, s.parks.Load(), int64(2))
	}
	// A closing handshake from the client wakes the session, which reads
	// the close frame and ends.
	for _, c := range clients {
		require.NoError(t, c.Close(StatusNormalClosure, "bye"))
	}
	for _, s := range served {
		var ce *CloseError
		require.ErrorAs(t, waitEnded(t, s), &ce)
		assert.Equal(t, StatusNormalClosure, ce.Code)
	}
}

func TestPollerWakesOnClose(t *testing.T) {
	if !pollerSupported {
		t.Skip("no poller on this platform")
	}
	p := newPoller()
	defer p.Close()
	url, sessions := parkedServer(t, p, false)

	cases := map[string]func(s *parkedSession, client *Conn){
		"server CloseNow": func(s *parkedSession, _ *Conn) { s.c.CloseNow() },
		"server Close": func(s *parkedSession, client *Conn) {
			go client.ReadMessage(context.Background()) // answers the close frame
			s.c.Close(StatusGoingAway, "shutting down")
		},
		"client drops TCP": func(_ *parkedSession, client *Conn) { client.CloseNow() },
	}
	for name, closeIt := range cases {
		t.Run(name, func(t *testing.T) {
			client := dialT(t, url, nil)
			echoOnce(t, client, "hi")
			s := <-sessions
			require.Eventually(t, func() bool { return s.parks.Load() >= 1 }, 5*time.Second, time.Millisecond)
			closeIt(s, client)
			require.Error(t, waitEnded(t, s))
		})
	}
}

func TestPollerWaitRefusesWhenBytesAreBuffered(t *testing.T) {
	if !pollerSupported {
		t.Skip("no poller on this platform")
	}
	p := newPoller()
	defer p.Close()
	server := make(chan *Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err == nil {
			server <- c
		}
	}))
	defer srv.Close()
	client := dialT(t, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	c := <-server
	defer c.CloseNow()

	// Two messages in one write arrive together: once the first is read,
	// the second is in the connection's buffer and the socket is quiet.
	a, err := NewPreparedMessage(TextMessage, []byte("one"))
	require.NoError(t, err)
	b, err := NewPreparedMessage(TextMessage, []byte("two"))
	require.NoError(t, err)
	require.NoError(t, client.writePreparedBatch(context.Background(), []*PreparedMessage{a, b}))
	time.Sleep(50 * time.Millisecond)
	_, msg, err := c.ReadMessage(context.Background())
	require.NoError(t, err)
	require.Equal(t, "one", string(msg))

	resumed := make(chan struct{}, 1)
	resume := func() { resumed <- struct{}{} }
	require.False(t, p.Wait(c, resume), "bytes are buffered: the caller must read")
	_, msg, err = c.ReadMessage(context.Background())
	require.NoError(t, err)
	require.Equal(t, "two", string(msg))

	// Now it parks; a second Wait while parked is refused; and Close of the
	// poller wakes the first.
	require.True(t, p.Wait(c, resume))
	require.False(t, p.Wait(c, resume), "already waiting")
	require.NoError(t, p.Close())
	select {
	case <-resumed:
	case <-time.After(5 * time.Second):
		t.Fatal("poller.Close did not wake the waiting connection")
	}
	require.False(t, p.Wait(c, resume), "a closed poller parks nothing")
	select {
	case <-resumed:
		t.Fatal("resume ran twice")
	case <-time.After(50 * time.Millisecond):
	}
}

func TestPollerRefusesTLS(t *testing.T) {
	p := newPoller()
	defer p.Close()
	url, sessions := parkedServer(t, p, true)
	client := dialT(t, url, &DialOptions{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	echoOnce(t, client, "over TLS")
	echoOnce(t, client, "and again")
	s := <-sessions
	assert.Zero(t, s.parks.Load(), "a TLS connection cannot be polled: the session reads instead")
}

// A peer that stalls midway through a frame costs no goroutine and no
// pooled read buffer while it stalls, whether it stopped in the header or
// in the payload, and the message is whole once the rest arrives.
func TestPollerParksAStalledFrame(t *testing.T) {
	if !pollerSupported {
		t.Skip("no poller on this platform")
	}
	payload := bytes.Repeat([]byte("p"), 3000)
	frame := appendHeader(nil, header{fin: true, op: opBinary, length: int64(len(payload)), masked: true})
	frame = append(frame, payload...) // masking key 0: the payload as is
	cases := map[string]struct {
		split   int
		wantBuf int // len of the read buffer while parked
	}{
		"in the header":  {split: 1, wantBuf: stalledBufferSize},
		"in the payload": {split: len(frame) - 1000, wantBuf: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := newPoller()
			defer p.Close()
			server, client := serverConn(t, nil, nil)
			_, err := client.NetConn().Write(frame[:tc.split])
			require.NoError(t, err)

			require.NoError(t, server.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
			_, _, err = server.ReadMessage(context.Background())
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			require.NoError(t, server.SetReadDeadline(time.Time{}))

			resumed := make(chan struct{}, 1)
			require.True(t, p.Wait(server, func() { resumed <- struct{}{} }), "stalled bytes need more from the socket")
			assert.Len(t, server.rd.buf, tc.wantBuf, "the pooled read buffer went back")
			assert.Nil(t, server.rd.pooled)

			_, err = client.NetConn().Write(frame[tc.split:])
			require.NoError(t, err)
			select {
			case <-resumed:
			case <-time.After(5 * time.Second):
				t.Fatal("the rest of the frame did not wake the connection")
			}
			_, got, err := server.ReadMessage(context.Background())
			require.NoError(t, err)
			assert.Equal(t, payload, got)
		})
	}
}
