package e2e

import (
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/testenv"
)

// startChatHTTP2 runs examples/chat over https with HTTP/2 and WebSockets
// over it (RFC 8441), with a certificate of the test's, and any extra
// flags.
func startChatHTTP2(t *testing.T, certFile, keyFile string, flags ...string) *server {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "examples", "chat"))
	require.NoError(t, err)
	args := append([]string{"-dir", dir, "-tls-cert", certFile, "-tls-key", keyFile, "-http2"}, flags...)
	return startExample(t, "chat", []string{"GODEBUG=http2xconnect=1"}, args...)
}

// accessLine matches the chat server's access log lines (slog's text
// format) and captures the method, the URI, the protocol and the TCP
// peer (address and port: the connection).
var accessLine = regexp.MustCompile(`msg="\d+ [A-Z]+ \S+ \([^)]*\) [0-9.]+ms" status=(\d+) method=(\S+) uri=(\S+) remote_ip=\S+ duration=\S+ proto=(\S+) peer=(\S+)`)

// access is one access log line.
type access struct{ status, method, uri, proto, peer string }

func accesses(log string) []access {
	var out []access
	for _, m := range accessLine.FindAllStringSubmatch(log, -1) {
		out = append(out, access{m[1], m[2], m[3], m[4], m[5]})
	}
	return out
}

// TestChatHTTP2: Chromium loads the chat page over https from a server
// that speaks HTTP/2 with extended CONNECT, and the page's WebSocket
// arrives at the server as an RFC 8441 stream of the page's own
// connection (the server's access log shows CONNECT over HTTP/2.0 from
// the TCP peer that fetched the page: one connection, no upgrade); two
// tabs chat through it; and after a server restart the page reconnects.
func TestChatHTTP2(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	cert := testenv.NewCert(t)
	certFile, keyFile := cert.WriteFiles(t, t.TempDir())
	first := startChatHTTP2(t, certFile, keyFile)
	b := newBrowser(t, chromedp.IgnoreCertErrors) // the test's certificate is self-signed
	a := b.newPage(t, "A")
	bb := b.newPage(t, "B")
	base := "https://" + first.Addr
	openChat(a, first, base)
	openChat(bb, first, base)
	assert.Equal(t, "h2", eval[string](a, `performance.getEntriesByType("navigation")[0].nextHopProtocol`), "the page came over HTTP/2")

	checkSocketsOnPageConnection(t, first, 2)

	post(a, "hello over HTTP/2")
	waitInbox(a, "hello over HTTP/2")
	waitInbox(bb, "hello over HTTP/2")
	post(bb, "and back")
	waitInbox(a, "and back")

	// A restart: the page reconnects by itself. (Over HTTP/1.1 or
	// HTTP/2: Chromium puts a WebSocket on an HTTP/2 connection only if
	// it already has one to the server, and a reconnecting page may not.)
	require.NoError(t, first.Cmd.Process.Signal(syscall.SIGTERM))
	// The server exits 0 (exampletest checks) once its shutdown is done,
	// spare connections of the browser's included.
	stopping := time.Now()
	select {
	case <-first.Exited:
		t.Logf("chat exited %v after SIGTERM", time.Since(stopping))
	case <-time.After(actionTimeout):
		t.Fatal("chat still running after SIGTERM")
	}
	startChatHTTP2(t, certFile, keyFile, "-addr", first.Addr)
	a.waitJSWithin(`updater.socket.readyState === WebSocket.OPEN`, "the page to reconnect", reconnectTimeout)
	bb.waitJSWithin(`updater.socket.readyState === WebSocket.OPEN`, "the page to reconnect", reconnectTimeout)
	post(a, "after the restart")
	waitInbox(bb, "after the restart")
}

// checkSocketsOnPageConnection waits for want WebSocket handshakes in s's
// access log and requires each to be an extended CONNECT over HTTP/2 (200,
// not 101) from a TCP peer that also loaded the page: the socket rode on
// the page's connection.
func checkSocketsOnPageConnection(t *testing.T, s *server, want int) {
	t.Helper()
	deadline := time.Now().Add(actionTimeout)
	var lines []access
	for {
		lines = accesses(s.Log.String())
		n := 0
		for _, l := range lines {
			if l.uri == "/chatsocket" {
				n++
			}
		}
		if n >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	pagePeers := map[string]bool{}
	for _, l := range lines {
		if l.uri == "/" && l.method == "GET" {
			assert.Equal(t, "HTTP/2.0", l.proto, "the page load: %+v", l)
			pagePeers[l.peer] = true
		}
	}
	var sockets []access
	for _, l := range lines {
		if l.uri == "/chatsocket" {
			sockets = append(sockets, l)
		}
	}
	require.Len(t, sockets, want, "WebSocket handshakes in the log:\n%s", s.Log.String())
	for _, l := range sockets {
		assert.Equal(t, "CONNECT", l.method, "the socket is an extended CONNECT: %+v", l)
		assert.Equal(t, "HTTP/2.0", l.proto, "the socket came over HTTP/2: %+v", l)
		assert.Equal(t, "200", l.status, "RFC 8441 answers 200: %+v", l)
		assert.True(t, pagePeers[l.peer], "the socket came on the connection of a page load: %+v, pages from %v", l, pagePeers)
	}
}
