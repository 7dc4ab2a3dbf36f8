package tornago_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/rawpeer"
)

// bodyReader is a route that reads the whole request body and reports the
// outcome of the read on got.
func bodyReader(got chan<- error) tornago.Factory {
	return fn(func(h *funcHandler, _ ...string) error {
		n, err := io.Copy(io.Discard, h.Request().Body)
		got <- err
		if err != nil {
			return err
		}
		return h.Write(strconv.FormatInt(n, 10))
	})
}

// dialRaw opens a TCP connection to ta's server, closed when t ends; the
// read deadline is the test's failure signal if the server never answers.
func dialRaw(t *testing.T, ta *testApp) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", ta.srv.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(30*time.Second)))
	return nc
}

// TestBodyStallTimeoutCutsAStalledUpload sends part of a declared body and
// then nothing: the handler's read fails once BodyStallTimeout passes
// without data, and the connection is closed instead of held.
func TestBodyStallTimeoutCutsAStalledUpload(t *testing.T) {
	t.Parallel()
	got := make(chan error, 1)
	ta := newTestApp(t, route(`/upload`, bodyReader(got)),
		tornago.Settings{BodyStallTimeout: 200 * time.Millisecond})
	nc := dialRaw(t, ta)
	_, err := io.WriteString(nc, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"+
		"Content-Length: 1000\r\n\r\n0123456789")
	require.NoError(t, err)

	select {
	case err := <-got:
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	case <-time.After(30 * time.Second):
		t.Fatal("the stalled body was never cut off")
	}
	// Whatever answer was sent, the server then closes the connection.
	_, err = io.Copy(io.Discard, nc)
	require.NoError(t, err, "the connection must end with EOF, not our read deadline")
}

// TestBodyStallTimeoutSparesAMovingUpload trickles a body a byte at a time
// for several times BodyStallTimeout in all: each byte renews the bound, so
// the upload completes.
func TestBodyStallTimeoutSparesAMovingUpload(t *testing.T) {
	t.Parallel()
	got := make(chan error, 1)
	const stall = 500 * time.Millisecond
	ta := newTestApp(t, route(`/upload`, bodyReader(got)), tornago.Settings{BodyStallTimeout: stall})
	nc := dialRaw(t, ta)
	const size = 40
	_, err := io.WriteString(nc, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"+
		"Content-Length: "+strconv.Itoa(size)+"\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	start := time.Now()
	tick := time.NewTicker(stall / 10)
	defer tick.Stop()
	for range size {
		<-tick.C
		_, err := nc.Write([]byte{'x'})
		require.NoError(t, err)
	}
	require.Greater(t, time.Since(start), stall, "the upload must outlast the bound to prove anything")
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, strconv.Itoa(size), string(body))
	require.NoError(t, <-got)
}

// bigStaticFile writes a file of size bytes under a new static root.
func bigStaticFile(t *testing.T, size int) string {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "big.bin"), []byte(strings.Repeat("x", size)), 0o644))
	return root
}

// TestWriteStallTimeoutCutsAClientThatStopsReading asks for a file much
// larger than the socket buffers and never reads: once WriteStallTimeout
// passes without progress the handler gives up (its request is logged) and
// the connection is closed, so the client finds EOF before the file's end.
func TestWriteStallTimeoutCutsAClientThatStopsReading(t *testing.T) {
	t.Parallel()
	const size = 64 << 20
	root := bigStaticFile(t, size)
	ta := newTestApp(t, nil, tornago.Settings{StaticPath: root, WriteStallTimeout: 200 * time.Millisecond})
	nc := dialRaw(t, ta)
	_, err := io.WriteString(nc, "GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)

	require.Eventually(t, func() bool { return strings.Contains(ta.logs.String(), "/static/big.bin") },
		30*time.Second, 10*time.Millisecond, "the handler never gave up on a client that does not read")
	n, err := io.Copy(io.Discard, nc)
	require.NoError(t, err, "the connection must end with EOF, not our read deadline")
	assert.Less(t, n, int64(size), "the response was cut")
}

// TestWriteStallTimeoutSparesASlowDownload reads a large file in small
// steps for several times WriteStallTimeout in all: every step is progress,
// so the whole file arrives.
func TestWriteStallTimeoutSparesASlowDownload(t *testing.T) {
	t.Parallel()
	// The reader below is a goroutine of a loaded test run, and a pause
	// of it longer than the bound looks like a stalled client (500 ms
	// failed once under -race), so the bound is a second. The server's
	// last write waits for the client to have read all but the socket
	// buffers (up to 4 MiB with Linux's autotuning): at 256 KiB per
	// stall/20 that comes 2.4 s in, well past the bound, so a deadline
	// that is not moved on would cut the download.
	const size = 16 << 20
	const stall = time.Second
	root := bigStaticFile(t, size)
	ta := newTestApp(t, nil, tornago.Settings{StaticPath: root, WriteStallTimeout: stall})
	nc := dialRaw(t, ta)
	require.NoError(t, nc.(*net.TCPConn).SetReadBuffer(64<<10))
	_, err := io.WriteString(nc, "GET /static/big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)

	start := time.Now()
	tick := time.NewTicker(stall / 20)
	defer tick.Stop()
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var n int64
	for {
		<-tick.C
		m, err := io.CopyN(io.Discard, resp.Body, 256<<10)
		n += m
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
	}
	assert.Equal(t, int64(size), n)
	assert.Greater(t, time.Since(start), stall, "the download must outlast the bound to prove anything")
}

// TestStallTimeoutsSpareIdleWebSockets upgrades a keep-alive connection
// that first served an ordinary request (whose deadlines must not carry
// over), stays silent for several times both bounds, then echoes.
func TestStallTimeoutsSpareIdleWebSockets(t *testing.T) {
	t.Parallel()
	const bound = 100 * time.Millisecond
	ta := newTestApp(t, []tornago.Route{
		{Pattern: `/ws`, Handler: func() tornago.Handler { return &echoSocket{} }},
		{Pattern: `/upload`, Handler: bodyReader(make(chan error, 1))},
	}, tornago.Settings{CookieSecret: "s", BodyStallTimeout: bound, WriteStallTimeout: bound})
	nc := dialRaw(t, ta)
	br := bufio.NewReader(nc)
	_, err := io.WriteString(nc, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"+
		"Content-Length: 3\r\n\r\nabc")
	require.NoError(t, err)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	require.Zero(t, br.Buffered(), "nothing follows the upload's response")
	ws := rawpeer.Upgrade(t, nc, "/ws", http.Header{"Host": {"x"}})
	ws.Expect(rawpeer.OpText, []byte("hello anon"), "greeting")

	time.Sleep(10 * bound) // idle: what is tested is that nothing happens meanwhile
	ws.Queue(rawpeer.Frame{B0: rawpeer.FIN | byte(rawpeer.OpText), Payload: []byte("still here")})
	ws.Expect(rawpeer.OpText, []byte("still here"), "echo after idling (was the idle WebSocket closed?)")
}
