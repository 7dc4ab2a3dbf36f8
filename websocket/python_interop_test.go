package websocket_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tornago/tornago/internal/testenv"
	"github.com/tornago/tornago/websocket"
)

// These tests run tornago's WebSocket core against Python's `websockets`
// library (Debian's python3-websockets 10.4), driven by the scripts in
// testdata/python: our server with its client, and our client with its
// server, each over TCP on 127.0.0.1.

// pyTimeout bounds each Python interop test.
const pyTimeout = 60 * time.Second

// pyCloseTimeout is our side's CloseTimeout; a close handshake that works
// finishes in well under half of it.
const pyCloseTimeout = 4 * time.Second

// pySizes must match SIZES in testdata/python/payloads.py.
var pySizes = []int{0, 125, 126, 65535, 65536, 1 << 20}

// pyTextPayload returns n bytes of valid UTF-8 mixing one- to four-byte
// runes.
func pyTextPayload(n int) []byte {
	runes := []rune{'a', 'é', '€', '😀', 'z'}
	b := make([]byte, 0, n)
	for i := 0; len(b) < n; i++ {
		r := runes[i%len(runes)]
		if len(b)+utf8.RuneLen(r) > n {
			r = 'x'
		}
		b = utf8.AppendRune(b, r)
	}
	return b
}

// pyBinaryPayload returns n pseudo-random bytes.
func pyBinaryPayload(n int) []byte {
	rng := rand.New(rand.NewPCG(uint64(n), 0x7079))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// pyTestContext checks for leaked goroutines once everything the test
// started has been cleaned up, and returns a context that ends after
// pyTimeout and is cancelled just before that check.
func pyTestContext(t *testing.T) context.Context {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	ctx, cancel := context.WithTimeout(context.Background(), pyTimeout)
	t.Cleanup(cancel)
	return ctx
}

// pyHandlerResult is what our server's handler saw on one connection.
type pyHandlerResult struct {
	path    string
	err     error
	elapsed time.Duration
}

// TestInteropPythonClient runs our server (websocket.Accept in an httptest
// server) against the `websockets` client in ws_client.py.
func TestInteropPythonClient(t *testing.T) {
	py := testenv.Python(t, "websockets")
	ctx := pyTestContext(t)

	results := make(chan pyHandlerResult, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			ConnOptions: websocket.ConnOptions{CloseTimeout: pyCloseTimeout},
		})
		if err != nil {
			results <- pyHandlerResult{path: r.URL.Path, err: fmt.Errorf("accept: %w", err)}
			return
		}
		defer c.CloseNow()
		switch r.URL.Path {
		case "/echo":
			for {
				typ, p, err := c.ReadMessage(ctx)
				if err == nil {
					err = c.WriteMessage(ctx, typ, p)
				}
				if err != nil {
					results <- pyHandlerResult{path: r.URL.Path, err: err}
					return
				}
			}
		case "/close":
			start := time.Now()
			err := c.Close(4003, "go-bye")
			results <- pyHandlerResult{path: r.URL.Path, err: err, elapsed: time.Since(start)}
		default:
			results <- pyHandlerResult{path: r.URL.Path, err: errors.New("unexpected path")}
		}
	}))
	t.Cleanup(srv.Close)
	base := "ws" + strings.TrimPrefix(srv.URL, "http")

	handlerResult := func(t *testing.T, path string) pyHandlerResult {
		t.Helper()
		select {
		case res := <-results:
			require.Equal(t, path, res.path)
			return res
		case <-ctx.Done():
			t.Fatalf("our handler for %s did not finish", path)
			return pyHandlerResult{}
		}
	}

	t.Run("echo, client closes", func(t *testing.T) {
		var got struct {
			Echoed       int     `json:"echoed"`
			ReplyCode    int     `json:"reply_code"`
			ReplyReason  string  `json:"reply_reason"`
			CloseSeconds float64 `json:"close_seconds"`
		}
		runPyClient(t, ctx, py, "echo", base+"/echo", &got)
		assert.Equal(t, 2*len(pySizes), got.Echoed, "messages echoed intact")
		assert.Equal(t, 4002, got.ReplyCode, "code of our close reply")
		assert.Less(t, got.CloseSeconds, (pyCloseTimeout / 2).Seconds(), "the client's close waited for a timeout")

		res := handlerResult(t, "/echo")
		var ce *websocket.CloseError
		require.ErrorAs(t, res.err, &ce)
		assert.Equal(t, &websocket.CloseError{Code: 4002, Reason: "py-bye"}, ce)
		assert.ErrorIs(t, res.err, websocket.ErrClosed)
	})

	t.Run("server closes", func(t *testing.T) {
		var got struct {
			Code   int    `json:"code"`
			Reason string `json:"reason"`
		}
		runPyClient(t, ctx, py, "wait-close", base+"/close", &got)
		assert.Equal(t, 4003, got.Code, "code the Python client saw")
		assert.Equal(t, "go-bye", got.Reason, "reason the Python client saw")

		res := handlerResult(t, "/close")
		assert.NoError(t, res.err, "our Close")
		assert.Less(t, res.elapsed, pyCloseTimeout/2, "our Close waited for its timeout")
	})
}

// runPyClient runs ws_client.py in mode against url and decodes the JSON
// object it prints into out.
func runPyClient(t *testing.T, ctx context.Context, py, mode, url string, out any) {
	t.Helper()
	cmd := exec.CommandContext(ctx, py, "testdata/python/ws_client.py", mode, url)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	require.NoError(t, err, "ws_client.py %s: %s", mode, stderr.String())
	require.NoError(t, json.Unmarshal(stdout, out), "ws_client.py printed %q", stdout)
}

// pyServer is ws_server.py running as a child process.
type pyServer struct {
	port  string
	lines <-chan string // JSON reports, one per finished connection
}

// startPyServer starts ws_server.py and waits for it to listen. It stops
// when the test ends.
func startPyServer(t *testing.T, ctx context.Context, py string) *pyServer {
	t.Helper()
	child := testenv.StartChild(t, exec.Command(py, "testdata/python/ws_server.py"))
	line := child.Line(t, time.Until(deadlineOf(ctx)))
	port, found := strings.CutPrefix(line, "PORT ")
	require.True(t, found, "ws_server.py printed %q", line)
	return &pyServer{port: port, lines: child.Lines}
}

// deadlineOf is ctx's deadline, or a minute from now without one.
func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(time.Minute)
}

// report waits for the server's report about a finished connection.
func (s *pyServer) report(t *testing.T, ctx context.Context) (path string, code int, reason string) {
	t.Helper()
	select {
	case line, ok := <-s.lines:
		require.True(t, ok, "ws_server.py exited")
		var r struct {
			Path   string `json:"path"`
			Code   int    `json:"code"`
			Reason string `json:"reason"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &r), "ws_server.py printed %q", line)
		return r.Path, r.Code, r.Reason
	case <-ctx.Done():
		t.Fatal("ws_server.py reported nothing")
		return "", 0, ""
	}
}

// TestInteropPythonServer runs our client (websocket.Dial) against the
// `websockets` server in ws_server.py.
func TestInteropPythonServer(t *testing.T) {
	py := testenv.Python(t, "websockets")
	ctx := pyTestContext(t)
	srv := startPyServer(t, ctx, py)
	base := "ws://127.0.0.1:" + srv.port
	opts := &websocket.DialOptions{ConnOptions: websocket.ConnOptions{CloseTimeout: pyCloseTimeout}}

	t.Run("echo, client closes", func(t *testing.T) {
		c, _, err := websocket.Dial(ctx, base+"/echo", opts)
		require.NoError(t, err)
		defer c.CloseNow()
		for _, typ := range []websocket.MessageType{websocket.TextMessage, websocket.BinaryMessage} {
			for _, n := range pySizes {
				what := fmt.Sprintf("%s message of %d bytes", typ, n)
				want := pyBinaryPayload(n)
				if typ == websocket.TextMessage {
					want = pyTextPayload(n)
				}
				require.NoError(t, c.WriteMessage(ctx, typ, want), "send %s", what)
				gotTyp, got, err := c.ReadMessage(ctx)
				require.NoError(t, err, "echo of %s", what)
				require.Equal(t, typ, gotTyp, "type of echoed %s", what)
				require.True(t, bytes.Equal(want, got), "echo of %s differs (%d bytes back)", what, len(got))
			}
		}

		start := time.Now()
		require.NoError(t, c.Close(4004, "go-client-bye"))
		assert.Less(t, time.Since(start), pyCloseTimeout/2, "our Close waited for its timeout")
		path, code, reason := srv.report(t, ctx)
		assert.Equal(t, "/echo", path)
		assert.Equal(t, 4004, code, "code the Python server saw")
		assert.Equal(t, "go-client-bye", reason, "reason the Python server saw")
	})

	t.Run("server closes", func(t *testing.T) {
		c, _, err := websocket.Dial(ctx, base+"/close", opts)
		require.NoError(t, err)
		defer c.CloseNow()
		_, _, err = c.ReadMessage(ctx)
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, &websocket.CloseError{Code: 4005, Reason: "py-server-bye"}, ce)
		assert.ErrorIs(t, err, websocket.ErrClosed)

		path, code, _ := srv.report(t, ctx)
		assert.Equal(t, "/close", path)
		assert.Equal(t, 4005, code, "code of our close reply, as the Python server saw it")

		err = c.WriteMessage(ctx, websocket.TextMessage, []byte("too late"))
		assert.ErrorIs(t, err, websocket.ErrClosed, "write after the server's close")
	})
}
