package websocket

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// streamServer is a server that, on each connection, reads one message
// (the client's resync request) and then streams "gen:n" every few
// milliseconds, gen being the server's generation. stop kills it as a
// crash would: listener and connections closed, no close frames.
type streamServer struct {
	addr  string // where it listens
	srv   *http.Server
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []*Conn
}

func startStreamServer(t *testing.T, addr string, gen int) *streamServer {
	t.Helper()
	var l net.Listener
	// The previous generation's port may take a moment to be free again.
	require.Eventually(t, func() bool {
		var err error
		l, err = net.Listen("tcp", addr)
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	s := &streamServer{addr: l.Addr().String()}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.wg.Add(1)
		defer s.wg.Done()
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		defer c.CloseNow()
		if _, _, err := c.ReadMessage(context.Background()); err != nil {
			return
		}
		s.wg.Go(func() { // reads on, so the client's close is answered
			for {
				if _, _, err := c.ReadMessage(context.Background()); err != nil {
					return
				}
			}
		})
		for n := 0; ; n++ {
			if err := c.WriteMessage(context.Background(), TextMessage, fmt.Appendf(nil, "%d:%d", gen, n)); err != nil {
				return
			}
			select {
			case <-c.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})}
	go s.srv.Serve(l)
	return s
}

func (s *streamServer) stop() {
	s.srv.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.CloseNow()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// TestReconnectorServerRestart: the server dies mid-stream; the client
// retries with growing delays while it is down, reconnects by itself when
// it is back, resyncs in OnConnect and receives the new server's stream.
func TestReconnectorServerRestart(t *testing.T) {
	first := startStreamServer(t, "127.0.0.1:0", 1)
	addr := first.addr // the second generation listens here again

	type event struct {
		conn int
		msg  string
	}
	events := make(chan event, 1000)
	var (
		mu      sync.Mutex
		delays  []time.Duration
		dialErr int
	)
	conns := 0
	refused := make(chan struct{}, 1000) // one per refused dial
	r := NewReconnector("ws://"+addr+"/", nil, func(ctx context.Context, c *Conn) error {
		conns++
		n := conns
		if err := c.WriteMessage(ctx, TextMessage, []byte("resync")); err != nil {
			return err
		}
		for {
			_, msg, err := c.ReadMessage(ctx)
			if err != nil {
				return err
			}
			select {
			case events <- event{n, string(msg)}:
			default:
			}
		}
	})
	r.MinDelay, r.MaxDelay = 20*time.Millisecond, 160*time.Millisecond
	r.OnError = func(err error, retryIn time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		delays = append(delays, retryIn)
		if !errors.Is(err, ErrClosed) && strings.Contains(err.Error(), "dial") {
			dialErr++
			select {
			case refused <- struct{}{}:
			default:
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	next := func() event {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("no message within 5 s")
			return event{}
		}
	}
	for range 5 {
		e := next()
		require.Equal(t, 1, e.conn)
		require.True(t, strings.HasPrefix(e.msg, "1:"), e.msg)
	}

	first.stop()
	for i := range 3 { // several refused dials
		select {
		case <-refused:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d refused dials in 10 s, want 3", i)
		}
	}
	second := startStreamServer(t, addr, 2)
	defer second.stop()

	var e event
	for e = next(); e.conn == 1; e = next() {
	}
	assert.Equal(t, event{2, "2:0"}, e, "the new connection resynced and got the new stream from its start")
	assert.Equal(t, "2:1", next().msg)

	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	mu.Lock()
	defer mu.Unlock()
	require.GreaterOrEqual(t, dialErr, 3, "refused dials while the server was down: %v", delays)
	// Delays grow from MinDelay and stay under MaxDelay, jittered into
	// [d/2, d).
	assert.Less(t, delays[0], 20*time.Millisecond)
	for i, d := range delays {
		assert.GreaterOrEqual(t, d, 10*time.Millisecond, "delay %d", i)
		assert.Less(t, d, 160*time.Millisecond, "delay %d", i)
	}
	assert.GreaterOrEqual(t, delays[len(delays)-1], 40*time.Millisecond, "the delay grew: %v", delays)
}

// TestReconnectorRefused: a 4xx answer ends Run with the DialError
// instead of retrying forever; 503 is retried.
func TestReconnectorRefused(t *testing.T) {
	statuses := make(chan int, 10)
	statuses <- http.StatusServiceUnavailable
	statuses <- http.StatusForbidden
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(<-statuses)
	})}
	go srv.Serve(l)
	defer srv.Close()

	var retries int
	r := NewReconnector("ws://"+l.Addr().String()+"/", nil, func(context.Context, *Conn) error {
		t.Error("OnConnect called for a refused handshake")
		return nil
	})
	r.MinDelay = time.Millisecond
	r.OnError = func(error, time.Duration) { retries++ }
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = r.Run(ctx)
	var de *DialError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, http.StatusForbidden, de.Response.StatusCode)
	assert.Equal(t, 1, retries, "503 retried once")
}

// TestReconnectorCancelDuringConnection: cancelling Run's context while
// OnConnect reads closes the connection with 1001 and returns.
func TestReconnectorCancelDuringConnection(t *testing.T) {
	codes := make(chan StatusCode, 1)
	var wg sync.WaitGroup
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		_, _, err = c.ReadMessage(context.Background())
		var ce *CloseError
		if errors.As(err, &ce) {
			codes <- ce.Code
		}
	})}
	go srv.Serve(l)
	defer func() { srv.Close(); wg.Wait() }()

	ctx, cancel := context.WithCancel(context.Background())
	connected := make(chan struct{})
	r := NewReconnector("ws://"+l.Addr().String()+"/", nil, func(ctx context.Context, c *Conn) error {
		close(connected)
		_, _, err := c.ReadMessage(ctx)
		return err
	})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	<-connected
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	select {
	case code := <-codes:
		assert.Equal(t, StatusGoingAway, code)
	case <-time.After(5 * time.Second):
		t.Fatal("server saw no close frame")
	}
}

// TestReconnectorFlappingServer: a server that accepts and drops every
// connection at once does not reset the backoff: the delays keep growing.
func TestReconnectorFlappingServer(t *testing.T) {
	var wg sync.WaitGroup
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		if c, err := Accept(w, r, nil); err == nil {
			c.CloseNow()
		}
	})}
	go srv.Serve(l)
	defer func() { srv.Close(); wg.Wait() }()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var delays []time.Duration
	connects := 0
	r := NewReconnector("ws://"+l.Addr().String()+"/", nil, func(ctx context.Context, c *Conn) error {
		connects++
		_, _, err := c.ReadMessage(ctx)
		return err
	})
	r.MinDelay, r.MaxDelay = 10*time.Millisecond, time.Second
	r.OnError = func(err error, retryIn time.Duration) {
		delays = append(delays, retryIn)
		if len(delays) == 5 {
			cancel()
		}
	}
	require.ErrorIs(t, r.Run(ctx), context.Canceled)
	assert.Equal(t, 5, connects)
	for i, d := range delays {
		full := 10 * time.Millisecond << i
		assert.GreaterOrEqual(t, d, full/2, "delay %d: %v", i, delays)
		assert.Less(t, d, full, "delay %d: %v", i, delays)
	}
}

func TestJitter(t *testing.T) {
	t.Parallel()
	for range 1000 {
		d := jitter(100 * time.Millisecond)
		require.GreaterOrEqual(t, d, 50*time.Millisecond)
		require.Less(t, d, 100*time.Millisecond)
	}
}

// A feed client that survives server restarts: every new connection
// resubscribes from the last message it saw, then reads until it fails.
func ExampleReconnector() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	last := "0"
	r := NewReconnector("wss://feed.example.com/updates", nil, func(ctx context.Context, c *Conn) error {
		if err := c.WriteMessage(ctx, TextMessage, []byte(`{"since":`+last+`}`)); err != nil {
			return err
		}
		for {
			_, msg, err := c.ReadMessage(ctx)
			if err != nil {
				return err
			}
			last = string(msg) // the feed sends sequence numbers
		}
	})
	r.OnError = func(err error, retryIn time.Duration) {
		fmt.Printf("connection lost (%v); retrying in %v\n", err, retryIn)
	}
	_ = r.Run(ctx) // returns when ctx ends
}
