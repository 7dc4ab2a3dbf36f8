package tornago_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/rawpeer"
	"github.com/tornago/tornago/internal/testenv"
	"github.com/tornago/tornago/websocket"
)

func echoRoundTrip(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.WriteMessage(ctx, websocket.TextMessage, []byte(msg)))
	_, got, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	require.Equal(t, msg, string(got))
}

// Quiet connections park their readers in the application's poller: no
// goroutine per idle connection, and each one still answers.
func TestWebSocketHandlerQuietConnectionsHoldNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" { // the core parks readers with epoll
		t.Skip("no poller on this platform: every connection keeps a reader")
	}
	var closed atomic.Int32
	_, url := startEchoApp(t, &closed)
	// Warm up the server's goroutines (listener, keepalive, poller).
	warm := dial(t, url, nil)
	_, _, err := warm.ReadMessage(context.Background())
	require.NoError(t, err)
	echoRoundTrip(t, warm, "warm")
	require.Eventually(t, func() bool { return readers() == 0 && dispatchers() == 0 }, 5*time.Second, 10*time.Millisecond,
		"the warm-up connection went quiet")
	before := runtime.NumGoroutine()

	const n = 200
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = dial(t, url, nil)
		_, hello, err := conns[i].ReadMessage(context.Background())
		require.NoError(t, err)
		require.Equal(t, "hello anon", string(hello))
		echoRoundTrip(t, conns[i], fmt.Sprint("first ", i))
	}
	require.Eventually(t, func() bool { return readers() == 0 }, 5*time.Second, 10*time.Millisecond,
		"%d readers with %d quiet connections", readers(), n)
	// Goroutines of the handshakes and first messages wind down on their
	// own time; what matters is that the count settles, not when.
	require.Eventually(t, func() bool { return runtime.NumGoroutine()-before < 10 }, 5*time.Second, 10*time.Millisecond,
		"goroutines: %d before, %d with %d quiet connections", before, runtime.NumGoroutine(), n)

	// A busy connection keeps its reader in the read between messages
	// that come close together; once quiet, the keepalive goroutine
	// parks it, and it still works afterwards.
	busy := conns[0]
	for i := range 20 {
		echoRoundTrip(t, busy, fmt.Sprint("burst ", i))
	}
	// Unless this machine is so loaded that a round trip took longer than
	// the busy gap (then it parked already), the busy connection's reader
	// and dispatcher wait for its next message.
	require.LessOrEqual(t, readers(), 1)
	require.LessOrEqual(t, dispatchers(), 1)
	require.Eventually(t, func() bool { return readers() == 0 && dispatchers() == 0 }, 5*time.Second, 20*time.Millisecond,
		"the quiet connection kept %d readers and %d dispatchers", readers(), dispatchers())
	echoRoundTrip(t, busy, "after parking")

	for i, c := range conns {
		echoRoundTrip(t, c, fmt.Sprint("second ", i))
	}
	for _, c := range conns {
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	}
	require.Eventually(t, func() bool { return closed.Load() == n }, 5*time.Second, 10*time.Millisecond,
		"OnClose ran %d times for %d connections", closed.Load(), n)
}

// readers counts the goroutines in a WebSocketHandler's read loop.
func readers() int { return goroutinesIn("websocket.(*Session).readLoop(") }

// dispatchers counts the goroutines calling OnMessage or waiting to.
func dispatchers() int { return goroutinesIn("websocket.(*Session).dispatch(") }

func goroutinesIn(function string) int {
	var b strings.Builder
	pprof.Lookup("goroutine").WriteTo(&b, 2)
	return strings.Count(b.String(), function)
}

// reuseEcho echoes with pooled message buffers, checking that Data stays
// intact for the whole of OnMessage.
type reuseEcho struct {
	tornago.WebSocketHandler
	bad *atomic.Int32
}

func (h *reuseEcho) Open(args ...string) error {
	h.SetReuseMessageBuffers(true)
	return nil
}

func (h *reuseEcho) OnMessage(m tornago.Message) error {
	before := checksum(m.Data)
	time.Sleep(time.Duration(len(m.Data)%3) * time.Millisecond) // let the reader run ahead
	if checksum(m.Data) != before {
		h.bad.Add(1)
	}
	return h.WriteMessage(m.Data, m.Binary)
}

// checksum sums b position-weighted, without allocating.
func checksum(b []byte) uint64 {
	var sum uint64
	for i, c := range b {
		sum = sum*31 + uint64(c) + uint64(i)
	}
	return sum
}

func TestWebSocketHandlerReuseMessageBuffers(t *testing.T) {
	var bad atomic.Int32
	app, err := tornago.NewApplication([]tornago.Route{{
		Pattern: `/ws`,
		Handler: func() tornago.Handler { return &reuseEcho{bad: &bad} },
	}}, tornago.Settings{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	srv := httptest.NewServer(app)
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, app.Shutdown(context.Background()))
	})
	c := dial(t, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Messages of many sizes, sent ahead of the replies so that several
	// are in the inbox at once, each with its own buffer.
	sizes := []int{1, 64, 4095, 4096, 4097, 70000, 3, 2 << 20, 10, 5000}
	msgs := make([][]byte, 0, 3*len(sizes))
	for round := range 3 {
		for i, n := range sizes {
			msg := bytes.Repeat([]byte{byte('a' + (round*len(sizes)+i)%26)}, n)
			msgs = append(msgs, msg)
			require.NoError(t, c.WriteMessage(ctx, websocket.BinaryMessage, msg))
		}
	}
	for _, want := range msgs {
		_, got, err := c.ReadMessage(ctx)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	assert.Zero(t, bad.Load(), "Data changed while OnMessage ran")

	// Round trips allocate nothing on either side once the pools are warm
	// (the client reads into its own buffer). The race detector drops
	// pooled objects at random, so the count means something only without.
	if testenv.RaceEnabled() {
		t.Skip("allocation budget not checked under -race (.ci/run checks it without)")
	}
	buf := make([]byte, 0, 256)
	msg := bytes.Repeat([]byte("x"), 64)
	bg := context.Background() // a context that can end costs the client an allocation per call
	roundTrip := func() {
		if err := c.WriteMessage(bg, websocket.BinaryMessage, msg); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadMessageInto(bg, buf); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		roundTrip()
	}
	assert.LessOrEqual(t, testing.AllocsPerRun(200, roundTrip), 0.5, "allocations per round trip")
}

// A peer that stops in the middle of a frame holds no reader once the
// keepalive goroutine has parked it, and the message arrives whole when
// the peer goes on.
func TestWebSocketHandlerStalledFrameParks(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("no poller on this platform")
	}
	_, url := startEchoApp(t, nil)
	c := dial(t, url, nil)
	_, _, err := c.ReadMessage(context.Background()) // "hello anon"
	require.NoError(t, err)

	// A masked text frame with masking key 0, so the payload goes as is.
	payload := []byte("slowly, slowly")
	frame := rawpeer.AppendFrame(nil, rawpeer.FIN|byte(rawpeer.OpText), uint64(len(payload)), true, [4]byte{}, payload)
	for _, stop := range []int{1, 8} { // in the header, then in the payload
		_, err := c.NetConn().Write(frame[:stop])
		require.NoError(t, err)
		require.Eventually(t, func() bool { return readers() == 1 }, 5*time.Second, time.Millisecond,
			"the bytes woke the reader")
		require.Eventually(t, func() bool { return readers() == 0 }, 5*time.Second, 20*time.Millisecond,
			"a reader waits in a read for a stalled frame")
		_, err = c.NetConn().Write(frame[stop:])
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, got, err := c.ReadMessage(ctx)
		cancel()
		require.NoError(t, err)
		require.Equal(t, string(payload), string(got))
	}
}
