package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/exampletest"
	"github.com/tornago/tornago/tornagotest"
	"github.com/tornago/tornago/websocket"
)

// binary is the echo server built once for all tests, with the race
// detector when the tests run with it.
var binary string

func TestMain(m *testing.M) { exampletest.Main(m, &binary) }

// server is a running echo process.
type server struct{ *exampletest.Process }

// startServer runs the echo binary on a free port with extra environment
// variables and flags, and stops it with SIGTERM when the test ends.
func startServer(t *testing.T, env []string, flags ...string) *server {
	t.Helper()
	return &server{exampletest.Start(t, binary, env, flags...)}
}

func (s *server) url(path string) string { return "ws://" + s.Addr + path }

// dial connects to path on s and closes the connection when the test ends.
func dial(t *testing.T, s *server, path string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, s.url(path), opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// readCtx bounds one read in a test.
func readCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dialStatus dials path with the given Origin (none if empty) and returns
// the HTTP status and body of the answer.
func dialStatus(t *testing.T, s *server, path, origin string) (int, string) {
	t.Helper()
	c := tornagotest.NewClient(t, "http://"+s.Addr)
	c.Origin = origin
	resp := c.Handshake(path, nil)
	return resp.StatusCode, resp.Body
}

func TestEcho(t *testing.T) { forVariants(t, testEcho) }

func testEcho(t *testing.T, flags ...string) {
	t.Parallel()
	s := startServer(t, nil, flags...)
	c := dial(t, s, "/echo", nil)
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 1 << 20} {
		for _, typ := range []websocket.MessageType{websocket.TextMessage, websocket.BinaryMessage} {
			msg := bytes.Repeat([]byte("é"), n/2)
			require.NoError(t, c.WriteMessage(context.Background(), typ, msg))
			gotTyp, got, err := c.ReadMessage(readCtx(t))
			require.NoError(t, err)
			assert.Equal(t, typ, gotTyp, "size %d", n)
			assert.True(t, bytes.Equal(msg, got), "%s message of %d bytes echoed wrong", typ, n)
		}
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, "done"))
}

func TestEchoReadLimit(t *testing.T) { forVariants(t, testEchoReadLimit) }

func testEchoReadLimit(t *testing.T, flags ...string) {
	t.Parallel()
	s := startServer(t, nil, flags...)
	c := dial(t, s, "/echo", nil)
	err := c.WriteMessage(context.Background(), websocket.BinaryMessage, make([]byte, websocket.DefaultReadLimit+1))
	if err == nil {
		_, _, err = c.ReadMessage(readCtx(t))
	}
	var ce *websocket.CloseError
	require.True(t, errors.As(err, &ce), "want the server's close frame, got %v", err)
	assert.Equal(t, websocket.StatusMessageTooBig, ce.Code)
}

func TestEchoCloseParameter(t *testing.T) { forVariants(t, testEchoCloseParameter) }

func testEchoCloseParameter(t *testing.T, flags ...string) {
	t.Parallel()
	s := startServer(t, nil, flags...)
	c := dial(t, s, "/echo?close=4001&reason=bye", nil)
	_, _, err := c.ReadMessage(readCtx(t))
	var ce *websocket.CloseError
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, websocket.StatusCode(4001), ce.Code)
	assert.Equal(t, "bye", ce.Reason)

	c = dial(t, s, "/echo?close=1000", nil)
	_, _, err = c.ReadMessage(readCtx(t))
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, websocket.StatusNormalClosure, ce.Code)
	assert.Empty(t, ce.Reason)

	for _, code := range []string{"", "abc", "999", "1005", "1006", "1015", "2999", "5000", "-1"} {
		status, _ := dialStatus(t, s, "/echo?close="+code, "")
		assert.Equal(t, http.StatusBadRequest, status, "close=%q", code)
	}
}

// joinBroadcast dials /broadcast and waits until the server delivers the
// client's own first message back, which proves it is subscribed. Every
// client in earlier must receive that message too.
func joinBroadcast(t *testing.T, s *server, name string, earlier []*websocket.Conn, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	c := dial(t, s, "/broadcast", opts)
	hello := []byte("joined " + name)
	require.NoError(t, c.WriteMessage(context.Background(), websocket.TextMessage, hello))
	for _, r := range append(earlier, c) {
		_, got, err := r.ReadMessage(readCtx(t))
		require.NoError(t, err)
		require.Equal(t, string(hello), string(got))
	}
	return c
}

func TestBroadcast(t *testing.T) { forVariants(t, testBroadcast) }

func testBroadcast(t *testing.T, flags ...string) {
	t.Parallel()
	s := startServer(t, nil, flags...)
	var clients []*websocket.Conn
	for _, name := range []string{"a", "b", "c"} {
		clients = append(clients, joinBroadcast(t, s, name, clients, nil))
	}
	msgs := []struct {
		from int
		typ  websocket.MessageType
		data []byte
	}{
		{1, websocket.TextMessage, []byte("hello from b")},
		{0, websocket.BinaryMessage, []byte{0, 1, 2, 0xff}},
		{2, websocket.BinaryMessage, bytes.Repeat([]byte{7}, 100_000)},
	}
	for _, m := range msgs {
		require.NoError(t, clients[m.from].WriteMessage(context.Background(), m.typ, m.data))
		for i, c := range clients {
			typ, got, err := c.ReadMessage(readCtx(t))
			require.NoError(t, err)
			assert.Equal(t, m.typ, typ, "client %d", i)
			assert.True(t, bytes.Equal(m.data, got), "client %d got the wrong payload", i)
		}
	}
	// A client that leaves is no longer sent to.
	require.NoError(t, clients[2].Close(websocket.StatusNormalClosure, ""))
	require.NoError(t, clients[0].WriteMessage(context.Background(), websocket.TextMessage, []byte("after")))
	for _, c := range clients[:2] {
		_, got, err := c.ReadMessage(readCtx(t))
		require.NoError(t, err)
		assert.Equal(t, "after", string(got))
	}
}

// TestBroadcastSlowClient checks that a client that stops reading does not
// hold the others back and is dropped once its queue overflows.
func TestBroadcastSlowClient(t *testing.T) { forVariants(t, testBroadcastSlowClient) }

func testBroadcastSlowClient(t *testing.T, flags ...string) {
	t.Parallel()
	s := startServer(t, nil, flags...)
	fast := joinBroadcast(t, s, "fast", nil, nil)
	// A small receive buffer makes the slow client's socket fill early.
	smallBuffer := &websocket.DialOptions{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			err = nc.(*net.TCPConn).SetReadBuffer(16 << 10)
		}
		return nc, err
	}}
	slow := joinBroadcast(t, s, "slow", []*websocket.Conn{fast}, smallBuffer)

	// The slow client reads nothing from here on. 400 messages of 64 KiB
	// (25 MiB) exceed its queue (4 MiB) plus what the sockets hold.
	const count, size = 400, 64 << 10
	msg := bytes.Repeat([]byte("x"), size)
	start := time.Now()
	for i := range count {
		require.NoError(t, fast.WriteMessage(context.Background(), websocket.BinaryMessage, msg), "message %d", i)
		_, got, err := fast.ReadMessage(readCtx(t))
		require.NoError(t, err, "message %d", i)
		require.Len(t, got, size)
	}
	t.Logf("fast client: %d round trips of %d bytes in %v", count, size, time.Since(start))

	received := 0
	var err error
	for {
		if _, _, err = slow.ReadMessage(readCtx(t)); err != nil {
			break
		}
		received++
	}
	assert.ErrorIs(t, err, websocket.ErrClosed)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, received, count, "the slow client got every message")
	t.Logf("slow client: %d messages, then %v", received, err)
	// The server gathers its log lines (-log-flush): wait for them.
	assert.Eventually(t, func() bool { return strings.Contains(s.Log.String(), "slow") }, 10*time.Second, 5*time.Millisecond,
		"the server logs why it closed the client")
}

func TestOrigin(t *testing.T) { forVariants(t, testOrigin) }

func testOrigin(t *testing.T, flags ...string) {
	t.Parallel()
	const allowed = "http://app.example:3000"
	plain := startServer(t, nil, flags...)
	withAllow := startServer(t, []string{"ALLOW_ORIGIN=" + allowed}, flags...)
	tests := []struct {
		name   string
		s      *server
		origin string
		want   int
	}{
		{"no origin", plain, "", http.StatusSwitchingProtocols},
		{"same origin", plain, "http://" + plain.Addr, http.StatusSwitchingProtocols},
		{"same origin, other case", plain, "HTTP://" + strings.ToUpper(plain.Addr), http.StatusSwitchingProtocols},
		{"cross origin", plain, allowed, http.StatusForbidden},
		{"other port", plain, "http://127.0.0.1:1", http.StatusForbidden},
		{"allowed origin", withAllow, allowed, http.StatusSwitchingProtocols},
		{"same origin with ALLOW_ORIGIN", withAllow, "http://" + withAllow.Addr, http.StatusSwitchingProtocols},
		{"allowed origin on another port", withAllow, "http://app.example:3001", http.StatusForbidden},
		{"allowed origin, other scheme", withAllow, "https://app.example:3000", http.StatusForbidden},
	}
	for _, tt := range tests {
		for _, path := range []string{"/echo", "/broadcast"} {
			status, body := dialStatus(t, tt.s, path, tt.origin)
			assert.Equal(t, tt.want, status, "%s %s", tt.name, path)
			if tt.want == http.StatusForbidden {
				assert.Equal(t, "Cross origin websockets not allowed", body, "%s %s", tt.name, path)
			}
		}
	}
}

func TestDeflate(t *testing.T) { forVariants(t, testDeflate) }

func testDeflate(t *testing.T, flags ...string) {
	t.Parallel()
	s := startServer(t, nil, append(flags, "-deflate")...)
	c := dial(t, s, "/echo", &websocket.DialOptions{Compression: &websocket.CompressionOptions{}})
	require.True(t, c.Compressed(), "permessage-deflate negotiated")
	for _, msg := range []string{"plain", strings.Repeat("compressible ", 1000)} {
		require.NoError(t, c.WriteMessage(context.Background(), websocket.TextMessage, []byte(msg)))
		_, got, err := c.ReadMessage(readCtx(t))
		require.NoError(t, err)
		assert.Equal(t, msg, string(got))
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))

	plain := startServer(t, nil, flags...)
	c = dial(t, plain, "/echo", &websocket.DialOptions{Compression: &websocket.CompressionOptions{}})
	assert.False(t, c.Compressed(), "no compression without -deflate")
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
}

func TestShutdownClosesWithGoingAway(t *testing.T) { forVariants(t, testShutdownClosesWithGoingAway) }

func testShutdownClosesWithGoingAway(t *testing.T, flags ...string) {
	t.Parallel()
	s := startServer(t, nil, flags...)
	echo := dial(t, s, "/echo", nil)
	require.NoError(t, echo.WriteMessage(context.Background(), websocket.TextMessage, []byte("ready")))
	_, _, err := echo.ReadMessage(readCtx(t))
	require.NoError(t, err)
	bc := joinBroadcast(t, s, "b", nil, nil)

	require.NoError(t, s.Cmd.Process.Signal(syscall.SIGTERM))
	for name, c := range map[string]*websocket.Conn{"echo": echo, "broadcast": bc} {
		_, _, err := c.ReadMessage(readCtx(t))
		var ce *websocket.CloseError
		require.True(t, errors.As(err, &ce), "%s: %v", name, err)
		assert.Equal(t, websocket.StatusGoingAway, ce.Code, name)
		assert.Equal(t, "server shutting down", ce.Reason, name)
	}
	select {
	case <-s.Exited:
	case <-time.After(15 * time.Second):
		t.Fatal("server still running 15s after SIGTERM")
	}
	require.NoError(t, s.Err, "exit status")
	assert.NotContains(t, s.Log.String(), "level=ERROR")
	assert.Contains(t, s.Log.String(), "msg=stopped")

	// The port is closed.
	_, err = net.DialTimeout("tcp", s.Addr, time.Second)
	assert.Error(t, err)
}

// forVariants runs test against the default server (tornago.WebSocketHandler)
// and the bare-core one (-core): both must keep the same contract.
func forVariants(t *testing.T, test func(t *testing.T, flags ...string)) {
	t.Run("handler", func(t *testing.T) { test(t) })
	t.Run("core", func(t *testing.T) { test(t, "-core") })
}

// -pprof serves Go's profiles on a listener of their own, and only there.
func TestPprofListener(t *testing.T) {
	s := startServer(t, nil, "-pprof", "127.0.0.1:0")
	var url string
	require.Eventually(t, func() bool {
		m := regexp.MustCompile(`msg=profiles url=(\S+)`).FindStringSubmatch(s.Log.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond, "no profiles line in the log")
	resp, err := http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = http.Get("http://" + s.Addr + "/debug/pprof/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the WebSocket listener does not serve profiles")
}

// TestAccessLog checks the handler variant's access line for a
// handshake, gathered (-log-flush, the default) or written at once.
func TestAccessLog(t *testing.T) {
	for _, flags := range [][]string{nil, {"-log-flush", "0"}, {"-log-flush", "1h"}} {
		t.Run(strings.Join(append([]string{"flags"}, flags...), " "), func(t *testing.T) {
			t.Parallel()
			s := startServer(t, nil, flags...)
			c := dial(t, s, "/echo?x=1", nil)
			require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
			line := regexp.MustCompile(`level=INFO msg="101 GET /echo\?x=1 \(127\.0\.0\.1\) \d+\.\d\dms" status=101 method=GET`)
			if len(flags) == 2 && flags[1] == "1h" {
				// Held for an hour: written when the server stops.
				assert.NotRegexp(t, line, s.Log.String(), "a record gathered for an hour was written early")
				s.Stop(t)
				assert.Regexp(t, line, s.Log.String(), "the gathered records are written on the way out")
				return
			}
			require.Eventually(t, func() bool { return line.MatchString(s.Log.String()) }, 10*time.Second, 5*time.Millisecond,
				"no access line for the handshake in the server's log:\n%s", s.Log.String())
		})
	}
}
