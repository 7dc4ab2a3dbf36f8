// Package bench holds tornago's side-by-side benchmarks against other
// WebSocket servers (see README.md and run.sh). This test is the CI smoke
// test of the harness: it asserts nothing about speed, only that every
// server builds, starts and echoes, and that the load generator runs.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tornago/tornago/internal/testenv"
	"github.com/tornago/tornago/websocket"
)

// bin is where TestMain builds the servers and the load generator.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bench-smoke-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	code := func() int {
		// examples/echo belongs to the root module: it is built from there.
		for _, b := range []struct {
			dir  string
			args []string
		}{
			{".", []string{"build", "-o", dir + "/", "./servers/...", "./load"}},
			{"..", []string{"build", "-o", filepath.Join(dir, "tornago"), "./examples/echo"}},
		} {
			cmd := exec.Command("go", b.args...)
			cmd.Dir = b.dir
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "building:", err)
				return 1
			}
		}
		return m.Run()
	}()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// syncBuffer is a server's standard error, read while it is written.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs a server with -addr 127.0.0.1:0 and returns its
// address and process; the process is killed when the test ends.
func startServer(t *testing.T, name string, args ...string) (string, *os.Process) {
	addr, proc, _ := startServerLog(t, name, args...)
	return addr, proc
}

// startServerLog is startServer that also returns the server's standard
// error as it grows.
func startServerLog(t *testing.T, name string, args ...string) (string, *os.Process, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(name, append(args, "-addr", "127.0.0.1:0")...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addrc <- a
			}
		}
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, stderr.String())
		}
	})
	select {
	case a := <-addrc:
		return a, cmd.Process, stderr
	case <-exited:
		t.Fatalf("%s exited before listening", name)
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not print its address", name)
	}
	return "", nil, nil
}

// runLoad runs the load generator once against the server at addr
// (process proc), appending its result to raw, and returns the result,
// which must report no error.
func runLoad(t *testing.T, addr string, proc *os.Process, server, raw string, args ...string) map[string]any {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "load"), append(args, "-url", "ws://"+addr, "-pid", fmt.Sprint(proc.Pid), "-server", server, "-out", raw)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%v: %s", args, out)
	var r map[string]any
	require.NoError(t, json.Unmarshal(out, &r), "%s", out)
	assert.EqualValues(t, 0, r["errors"], "%v: %s", args, out)
	return r
}

// TestServersEcho starts every server of the benchmarks and echoes one
// text and one binary message through each (raw bytes for plain TCP).
func TestServersEcho(t *testing.T) {
	servers := []struct {
		name string
		cmd  func(t *testing.T) []string
	}{
		{"tornago", func(*testing.T) []string { return []string{filepath.Join(bin, "tornago")} }},
		{"tornago-core", func(*testing.T) []string { return []string{filepath.Join(bin, "tornago"), "-core"} }},
		{"gorilla", nil},
		{"coder", nil},
		{"gws", nil},
		{"gobwas", nil},
		{"tcp", nil},
		{"tornado", func(t *testing.T) []string {
			return []string{testenv.Python(t, "tornado"), filepath.Join("servers", "tornado", "server.py")}
		}},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			argv := []string{filepath.Join(bin, s.name)}
			if s.cmd != nil {
				argv = s.cmd(t)
			}
			addr, proc := startServer(t, argv[0], argv[1:]...)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if s.name == "tcp" {
				nc, err := net.Dial("tcp", addr)
				require.NoError(t, err)
				defer nc.Close()
				_, err = nc.Write([]byte("ping"))
				require.NoError(t, err)
				got := make([]byte, 4)
				_, err = io.ReadFull(nc, got)
				require.NoError(t, err)
				assert.Equal(t, "ping", string(got))
				return
			}
			c, _, err := websocket.Dial(ctx, "ws://"+addr+"/echo", nil)
			require.NoError(t, err)
			defer c.CloseNow()
			for _, m := range []struct {
				typ  websocket.MessageType
				data string
			}{{websocket.TextMessage, "héllo"}, {websocket.BinaryMessage, strings.Repeat("\x00\xff", 5000)}} {
				require.NoError(t, c.WriteMessage(ctx, m.typ, []byte(m.data)))
				typ, got, err := c.ReadMessage(ctx)
				require.NoError(t, err)
				assert.Equal(t, m.typ, typ)
				assert.Equal(t, m.data, string(got))
			}
			assert.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
			// A reconnect storm, in small: every server completes the
			// closing handshake of a connection closed right after its 101.
			r := runLoad(t, addr, proc, s.name, filepath.Join(t.TempDir(), "raw.jsonl"), "-mode", "handshake-close", "-count", "20", "-concurrency", "4")
			assert.EqualValues(t, 20, r["count"])
		})
	}
}

// TestLoadGenerator runs each scenario of the load generator briefly
// against the tornago server and turns the results into the report.
func TestLoadGenerator(t *testing.T) {
	addr, proc := startServer(t, filepath.Join(bin, "tornago"))
	raw := filepath.Join(t.TempDir(), "raw.jsonl")
	for _, args := range [][]string{
		{"-mode", "echo", "-conns", "4", "-warmup", "50ms", "-duration", "200ms"},
		{"-mode", "broadcast", "-conns", "8", "-warmup", "50ms", "-duration", "200ms"},
		{"-mode", "idle", "-conns", "20", "-settle", "50ms"},
		{"-mode", "handshake", "-count", "20", "-concurrency", "4"},
		{"-mode", "handshake-close", "-count", "20", "-concurrency", "4"},
	} {
		runLoad(t, addr, proc, "tornago", raw, args...)
	}
	out, err := exec.Command(filepath.Join(bin, "load"), "report", "-in", raw).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "### Summary")
	assert.Contains(t, string(out), "### Handshakes + close on a raw socket")
}

// TestLoadGeneratorAtScale runs the scenarios at scale in small: the chat
// room (tornago -hub and gorilla's chat example), 200 members for 1 s,
// and 200 idle connections with the server's keepalive pings on (every
// second, each connection pinged twice; the timeout is as long, so that a
// busy machine does not fail it), which the load generator must answer (a
// connection closed for a ping left unanswered is an error), with the
// server's Go heap read over pprof.
func TestLoadGeneratorAtScale(t *testing.T) {
	raw := filepath.Join(t.TempDir(), "raw.jsonl")
	chat := []string{"-mode", "chat", "-conns", "200", "-interval", "10ms", "-warmup", "100ms", "-duration", "1s"}
	for _, s := range []struct {
		name string
		argv []string
	}{
		{"tornago", []string{filepath.Join(bin, "tornago"), "-hub"}},
		{"gorilla", []string{filepath.Join(bin, "gorilla")}},
	} {
		addr, proc := startServer(t, s.argv[0], s.argv[1:]...)
		r := runLoad(t, addr, proc, s.name, raw, chat...)
		assert.Equal(t, "chat-200", r["scenario"], s.name)
		assert.Zero(t, r["missing"], "%s: every member gets every publish", s.name)
		assert.NotZero(t, r["published"], s.name)
		assert.NotZero(t, r["p99_us"], s.name)
	}

	addr, proc, stderr := startServerLog(t, filepath.Join(bin, "tornago"), "-ping", "1s", "-pprof", "127.0.0.1:0")
	var pprofURL string
	require.Eventually(t, func() bool {
		m := regexp.MustCompile(`msg=profiles url=(\S+)`).FindStringSubmatch(stderr.String())
		if m != nil {
			pprofURL = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond, "no profiles line in the server's log")
	r := runLoad(t, addr, proc, "tornago", raw, "-mode", "idle", "-conns", "200", "-ping", "1s", "-settle", "2500ms", "-pprof", pprofURL)
	assert.Equal(t, "idle-ping-200", r["scenario"])
	assert.NotZero(t, r["heap_after"])

	out, err := exec.Command(filepath.Join(bin, "load"), "report", "-in", raw).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "### Chat room: 200 members")
	assert.Contains(t, string(out), "### Idle at scale with keepalive pings on (200 connections)")
}

// BenchmarkAccept measures websocket.Accept (and CloseNow) on its own,
// net/http's request parsing left out: a stub ResponseWriter hands over a
// connection that discards writes. Its allocs/op is the "allocations per
// upgrade" figure of BENCHMARKS.md.
//
//	go test -run '^$' -bench Accept -benchmem
func BenchmarkAccept(b *testing.B) {
	r := httptest.NewRequest(http.MethodGet, "http://example.com/echo", nil)
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	w := &hijacker{ResponseWriter: httptest.NewRecorder(), brw: bufio.NewReadWriter(bufio.NewReader(nil), bufio.NewWriter(nil))}
	b.ReportAllocs()
	for b.Loop() {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			b.Fatal(err)
		}
		c.CloseNow()
	}
}

// hijacker is a ResponseWriter whose Hijack returns a discardConn.
type hijacker struct {
	http.ResponseWriter
	brw *bufio.ReadWriter
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) { return discardConn{}, h.brw, nil }

// discardConn accepts every write and every deadline; it is never read.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) Close() error                     { return nil }
func (discardConn) SetDeadline(time.Time) error      { return nil }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
func (discardConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (discardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
