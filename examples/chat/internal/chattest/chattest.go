// Package chattest runs chat server binaries (examples/chat and
// examples/chat/cluster) for their tests and talks to them as the page
// does: over TCP, with the page's Origin.
package chattest

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/exampletest"
	"github.com/tornago/tornago/websocket"
)

// Main builds the command of the package under test, stores its path in
// *binary, runs the tests, checks for leaked goroutines, and exits: the
// TestMain of a chat command.
func Main(m *testing.M, binary *string) { exampletest.Main(m, binary) }

// Build builds the command in the working directory; see
// exampletest.Build.
func Build() (binary string, cleanup func(), err error) { return exampletest.Build() }

// Server is a running chat process.
type Server struct {
	Addr   string        // where it listens, HOST:PORT
	Cmd    *exec.Cmd     // the process
	Log    *SyncBuffer   // its standard error
	Exited chan struct{} // closed once it has exited
	Err    error         // from Wait, once Exited is closed
}

// SyncBuffer collects output from several goroutines.
type SyncBuffer = exampletest.SyncBuffer

// Start runs binary on a free port (from another working directory, as
// `go run ./examples/chat` from the repository root would) and stops it
// with SIGTERM when the test ends.
func Start(t *testing.T, binary string, flags ...string) *Server {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"-addr", "127.0.0.1:0"}, flags...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), exampletest.RaceEnv())
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	s := &Server{Cmd: cmd, Log: &SyncBuffer{}, Exited: make(chan struct{})}
	cmd.Stderr = s.Log
	require.NoError(t, cmd.Start())
	addrs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addrs <- addr
			}
		}
		close(addrs)
		s.Err = cmd.Wait() // after stdout is drained, as os/exec requires
		close(s.Exited)
	}()
	select {
	case addr, ok := <-addrs:
		if !ok {
			<-s.Exited
			t.Fatalf("server exited before listening: %v\n%s", s.Err, s.Log)
		}
		s.Addr = addr
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-s.Exited
		t.Fatalf("server did not print its address\n%s", s.Log)
	}
	t.Cleanup(func() {
		s.Stop(t)
		if t.Failed() {
			t.Logf("server %s log:\n%s", s.Addr, s.Log)
		}
	})
	return s
}

// Stop sends SIGTERM and waits for the process to exit.
func (s *Server) Stop(t *testing.T) {
	t.Helper()
	select {
	case <-s.Exited:
		return
	default:
	}
	_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.Exited:
	case <-time.After(15 * time.Second):
		_ = s.Cmd.Process.Kill()
		<-s.Exited
		t.Error("server did not exit within 15s of SIGTERM")
	}
}

// Origin is the page's origin, which a browser sends with the handshake.
func (s *Server) Origin() string { return "http://" + s.Addr }

// Get fetches path and returns the response with its body read.
func (s *Server) Get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(s.Origin() + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// Dial opens /chatsocket as the page's script does: with the page's Origin
// (unless opts has headers of its own). The connection is closed when the
// test ends.
func (s *Server) Dial(t *testing.T, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	if opts.Header == nil {
		opts.Header = http.Header{"Origin": {s.Origin()}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+s.Addr+"/chatsocket", opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// ReadCtx bounds a read to 10 seconds.
func ReadCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Send posts body as the page's form does: {"body": ..., "_xsrf": ...}.
func Send(t *testing.T, c *websocket.Conn, body string) {
	t.Helper()
	msg, err := json.Marshal(map[string]string{"body": body, "_xsrf": "2|00000000|00|0"})
	require.NoError(t, err)
	require.NoError(t, c.WriteMessage(context.Background(), websocket.TextMessage, msg))
}

// Message is a chat message as the server sends it.
type Message struct {
	ID   string `json:"id"`
	Body string `json:"body"`
	HTML string `json:"html"`
}

// Receive reads one chat message and checks its shape: exactly the keys
// id, body and html.
func Receive(t *testing.T, c *websocket.Conn) Message {
	t.Helper()
	typ, data, err := c.ReadMessage(ReadCtx(t))
	require.NoError(t, err)
	require.Equal(t, websocket.TextMessage, typ)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(data, &fields), "%s", data)
	require.Len(t, fields, 3, "%s", data)
	var m Message
	require.NoError(t, json.Unmarshal(data, &m))
	return m
}

// cachedMessage is a message as the page shows it.
var cachedMessage = regexp.MustCompile(`<div class="message" id="m[^"]+">([^<]*)</div>`)

// Cached returns the bodies of the messages the page shows, oldest first
// (bodies without links or markup, which the page shows as they are).
func (s *Server) Cached(t *testing.T) []string {
	t.Helper()
	_, page := s.Get(t, "/")
	var bodies []string
	for _, m := range cachedMessage.FindAllStringSubmatch(page, -1) {
		bodies = append(bodies, m[1])
	}
	return bodies
}
