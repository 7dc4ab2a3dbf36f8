package tornago

import (
	"bufio"
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

// fakeWS stands in for WebSocketHandler: it uses init, runPrepare and
// sendError the way the WebSocket glue does.
type fakeWS struct {
	RequestHandler
	opened bool
}

func (h *fakeWS) Prepare() error {
	if h.request().URL.Query().Get("deny") != "" {
		return HTTPError{Code: http.StatusForbidden, Message: "denied"}
	}
	return nil
}

func (h *fakeWS) serveWebSocket() {
	rh := h.requestHandler()
	if err := rh.runPrepare(); err != nil {
		rh.sendError(err)
		return
	}
	if rh.finished {
		return
	}
	if err := rh.SetSecureCookie("session", "s1"); err != nil {
		rh.sendError(err)
		return
	}
	if h.request().URL.Query().Get("panic") != "" {
		panic("in handshake")
	}
	conn, brw, err := http.NewResponseController(rh.w).Hijack()
	if err != nil {
		rh.sendError(err)
		return
	}
	defer conn.Close()
	rh.SetStatus(http.StatusSwitchingProtocols)
	rh.logAccess() // before the 101 goes out, so the test sees the line
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	_ = rh.ResponseHeader().Write(brw)
	_, _ = brw.WriteString("\r\n")
	_ = brw.Flush()
	h.opened = true
}

func TestWebSocketHooks(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	app, err := NewApplication([]Route{{Pattern: `/ws`, Handler: func() Handler { return &fakeWS{} }}},
		Settings{CookieSecret: "secret", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	require.NoError(t, err)
	srv := httptest.NewServer(app)
	defer srv.Close()

	raw := func(path string) string {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		require.NoError(t, err)
		defer conn.Close()
		_, err = conn.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
		require.NoError(t, err)
		r := bufio.NewReader(conn)
		var b strings.Builder
		for {
			line, err := r.ReadString('\n')
			b.WriteString(line)
			if err != nil || line == "\r\n" {
				return b.String()
			}
		}
	}
	head := raw("/ws")
	assert.True(t, strings.HasPrefix(head, "HTTP/1.1 101 Switching Protocols\r\n"), head)
	assert.Contains(t, head, "Set-Cookie: session=", "cookies set before the 101 ride on it")
	assert.Contains(t, logs.String(), "101 GET /ws (127.0.0.1)")

	head = raw("/ws?deny=1")
	assert.True(t, strings.HasPrefix(head, "HTTP/1.1 403 Forbidden\r\n"), head)
	assert.Contains(t, logs.String(), "403 GET /ws?deny=1 (127.0.0.1)")

	head = raw("/ws?panic=1")
	assert.True(t, strings.HasPrefix(head, "HTTP/1.1 500 Internal Server Error\r\n"), head)
	assert.Contains(t, head, "Set-Cookie: session=", "cookies survive the error page")
	assert.Contains(t, logs.String(), "uncaught panic GET /ws?panic=1")
}
