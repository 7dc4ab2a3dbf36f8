// Package chattest runs chat server binaries (examples/chat and
// examples/chat/cluster) for their tests and talks to them as the page
// does: over TCP, with the page's Origin.
package chattest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
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
type Server struct{ *exampletest.Process }

// SyncBuffer collects output from several goroutines.
type SyncBuffer = exampletest.SyncBuffer

// Start runs binary on a free port (from another working directory, as
// `go run ./examples/chat` from the repository root would) and stops it
// with SIGTERM when the test ends.
func Start(t *testing.T, binary string, flags ...string) *Server {
	t.Helper()
	return &Server{exampletest.Start(t, binary, nil, flags...)}
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
