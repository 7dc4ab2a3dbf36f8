package websocket

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/rawpeer"
)

// injectionChars are the bytes a header value from user input must not
// carry onto the wire: CR and LF split the header (each alone is a line
// break to some parsers), NUL and DEL are forbidden in field values (RFC
// 9110 section 5.5).
var injectionChars = []struct{ name, c string }{
	{"CR", "\r"}, {"LF", "\n"}, {"CRLF", "\r\n"}, {"NUL", "\x00"}, {"DEL", "\x7f"},
}

// readHeaderBlock reads up to the blank line that ends an HTTP head and
// returns its lines, split at CRLF only.
func readHeaderBlock(t *testing.T, br *bufio.Reader) []string {
	t.Helper()
	var head []byte
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		b, err := br.ReadByte()
		require.NoError(t, err, "the head so far: %q", head)
		head = append(head, b)
	}
	return strings.Split(string(head[:len(head)-4]), "\r\n")
}

// checkHeaderLines fails unless no line holds a control character or a
// header named injected, and the line of header name holds want.
func checkHeaderLines(t *testing.T, lines []string, name, want string) {
	t.Helper()
	found := false
	for _, l := range lines {
		assert.False(t, strings.ContainsAny(l, "\r\n\x00\x7f"), "control character in head line %q", l)
		k, v, _ := strings.Cut(l, ":")
		assert.False(t, strings.EqualFold(strings.TrimSpace(k), "X-Injected"), "injected header line %q", l)
		if strings.EqualFold(k, name) {
			found = true
			assert.Equal(t, want, strings.TrimSpace(v))
		}
	}
	assert.True(t, found, "no %s line in %q", name, lines)
}

// TestAcceptHeaderValuesScrubbed: control characters in AcceptOptions.Header
// values reach the 101 response as spaces, so a value taken from user
// input cannot add a header or split the response.
func TestAcceptHeaderValuesScrubbed(t *testing.T) {
	t.Parallel()
	for _, ic := range injectionChars {
		t.Run(ic.name, func(t *testing.T) {
			t.Parallel()
			value := "a" + ic.c + "X-Injected: 1"
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := Accept(w, r, &AcceptOptions{Header: http.Header{"X-Note": {value}}})
				if err == nil {
					c.CloseNow()
				}
			}))
			defer srv.Close()
			conn, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), rawpeer.Timeout)
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(rawpeer.Timeout)))
			_, err = io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: "+srv.Listener.Addr().String()+
				"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "+rawpeer.NewKey()+
				"\r\nSec-WebSocket-Version: 13\r\n\r\n")
			require.NoError(t, err)
			lines := readHeaderBlock(t, bufio.NewReader(conn))
			require.Equal(t, "HTTP/1.1 101 Switching Protocols", lines[0])
			checkHeaderLines(t, lines[1:], "X-Note", "a"+strings.Repeat(" ", len(ic.c))+"X-Injected: 1")
		})
	}
}

// TestDialHostHeaderScrubbed: a Host header given in DialOptions.Header
// replaces the URL's host in the request with its control characters
// turned into spaces, so it cannot add a header to the request.
func TestDialHostHeaderScrubbed(t *testing.T) {
	t.Parallel()
	for _, ic := range injectionChars {
		t.Run(ic.name, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			dialed := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), rawpeer.Timeout)
				defer cancel()
				c, _, err := Dial(ctx, "ws://"+ln.Addr().String()+"/ws", &DialOptions{
					Header: http.Header{"Host": {"example.com" + ic.c + "X-Injected: 1"}},
				})
				if c != nil {
					c.CloseNow()
				}
				dialed <- err
			}()
			conn := rawpeer.AcceptConn(t, ln)
			require.NoError(t, conn.SetDeadline(time.Now().Add(rawpeer.Timeout)))
			lines := readHeaderBlock(t, bufio.NewReader(conn))
			assert.Equal(t, "GET /ws HTTP/1.1", lines[0])
			checkHeaderLines(t, lines[1:], "Host", "example.com"+strings.Repeat(" ", len(ic.c))+"X-Injected: 1")
			conn.Close()
			assert.Error(t, <-dialed, "the peer closed without answering")
		})
	}
}
