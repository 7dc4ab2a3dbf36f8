package rawpeer

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// acceptGUID is the fixed string of RFC 6455 section 1.3 that the
// Sec-WebSocket-Accept value is derived with.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey computes Sec-WebSocket-Accept for key (RFC 6455 section 4.2.2).
func AcceptKey(key string) string {
	sum := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// NewKey returns a fresh Sec-WebSocket-Key: 16 random bytes in base64.
func NewKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// Dial opens a TCP connection to addr, closed when the test ends, and
// performs the client's opening handshake for path by hand (Upgrade).
func Dial(t testing.TB, addr, path string, header http.Header) *Peer {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, Timeout)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return Upgrade(t, conn, path, header)
}

// Upgrade performs the client's opening handshake for path on conn, a
// connection the test dialed itself (with its own socket options, or
// after other requests on it), and returns a client peer on it. header
// adds request fields (Origin, Cookie, Sec-WebSocket-Extensions ...) and
// may replace Host. The response must be a 101 with the right
// Sec-WebSocket-Accept; its head is read byte by byte, so nothing the
// server sends after it is taken off the socket before the test reads.
// The peer is Compressed when the server accepted permessage-deflate.
func Upgrade(t testing.TB, conn net.Conn, path string, header http.Header) *Peer {
	t.Helper()
	key := NewKey()
	host := conn.RemoteAddr().String()
	if h := header.Get("Host"); h != "" {
		host = h
	}
	var req strings.Builder
	req.WriteString("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n")
	for _, name := range slices.Sorted(maps.Keys(header)) {
		if http.CanonicalHeaderKey(name) == "Host" {
			continue
		}
		for _, v := range header[name] {
			req.WriteString(name + ": " + v + "\r\n")
		}
	}
	require.NoError(t, conn.SetDeadline(time.Now().Add(Timeout)))
	_, err := io.WriteString(conn, req.String()+"\r\n")
	require.NoError(t, err)
	resp := readResponseHead(t, conn)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode, "handshake status")
	require.Equal(t, AcceptKey(key), resp.Header.Get("Sec-WebSocket-Accept"))
	require.NoError(t, conn.SetDeadline(time.Time{}))
	p := New(t, conn, true)
	p.Compressed = hasExtension(resp.Header, "permessage-deflate")
	return p
}

// readResponseHead reads a response head from conn one byte at a time,
// up to the empty line, and parses it.
func readResponseHead(t testing.TB, conn net.Conn) *http.Response {
	t.Helper()
	var head []byte
	var b [1]byte
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		_, err := conn.Read(b[:])
		require.NoError(t, err, "reading the handshake response (so far %q)", head)
		head = append(head, b[0])
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), &http.Request{Method: http.MethodGet})
	require.NoError(t, err, "parsing the handshake response %q", head)
	return resp
}

// HasToken reports whether the comma-separated lists in values (RFC 9110
// section 5.6.1: elements separated by commas and optional SP/HTAB) hold
// token, compared ASCII case-insensitively as RFC 6455 section 4.2.1 asks
// for Upgrade and Connection.
func HasToken(values []string, token string) bool {
	for _, v := range values {
		for el := range strings.SplitSeq(v, ",") {
			if EqualFoldASCII(strings.Trim(el, " \t"), token) {
				return true
			}
		}
	}
	return false
}

// hasExtension reports whether a Sec-WebSocket-Extensions field in h
// names extension, with or without parameters (RFC 6455 section 9.1).
func hasExtension(h http.Header, extension string) bool {
	for _, v := range h.Values("Sec-WebSocket-Extensions") {
		for el := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(el, ";")
			if EqualFoldASCII(strings.Trim(name, " \t"), extension) {
				return true
			}
		}
	}
	return false
}

// EqualFoldASCII compares a and b with ASCII letters folded, unlike
// strings.EqualFold, which folds Unicode (the Kelvin sign matches "k").
func EqualFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// AcceptConn accepts one connection on ln within Timeout; it is closed
// when the test ends.
func AcceptConn(t testing.TB, ln net.Listener) net.Conn {
	t.Helper()
	require.NoError(t, ln.(*net.TCPListener).SetDeadline(time.Now().Add(Timeout)))
	conn, err := ln.Accept()
	require.NoError(t, err, "the client did not connect")
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Accept accepts one connection on ln and answers the client's opening
// handshake by hand with a plain 101 (no subprotocol, no extension). It
// returns a server peer and the client's request, whose mandatory parts
// (RFC 6455 section 4.1) it has checked.
func Accept(t testing.TB, ln net.Listener) (*Peer, *http.Request) {
	t.Helper()
	conn := AcceptConn(t, ln)
	p := New(t, conn, false)
	req := ReadRequest(t, conn, p.R)
	_, err := io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: "+AcceptKey(req.Header.Get("Sec-WebSocket-Key"))+"\r\n\r\n")
	require.NoError(t, err)
	require.NoError(t, conn.SetDeadline(time.Time{}))
	return p, req
}

// ReadRequest reads a client's opening handshake request from br (conn's
// reader) and checks the parts RFC 6455 section 4.1 makes mandatory.
func ReadRequest(t testing.TB, conn net.Conn, br *bufio.Reader) *http.Request {
	t.Helper()
	require.NoError(t, conn.SetDeadline(time.Now().Add(Timeout)))
	req, err := http.ReadRequest(br)
	require.NoError(t, err, "reading the client's handshake request")
	assert.Equal(t, http.MethodGet, req.Method)
	assert.Equal(t, "HTTP/1.1", req.Proto)
	assert.True(t, HasToken(req.Header.Values("Upgrade"), "websocket"), "Upgrade: %q", req.Header.Values("Upgrade"))
	assert.True(t, HasToken(req.Header.Values("Connection"), "upgrade"), "Connection: %q", req.Header.Values("Connection"))
	assert.Equal(t, "13", req.Header.Get("Sec-WebSocket-Version"))
	key, err := base64.StdEncoding.DecodeString(req.Header.Get("Sec-WebSocket-Key"))
	assert.NoError(t, err, "Sec-WebSocket-Key")
	assert.Len(t, key, 16, "Sec-WebSocket-Key")
	assert.NotEmpty(t, req.Host, "Host")
	return req
}

// Request sends a hand-written HTTP request to addr ("\n" line ends are
// sent as "\r\n") and returns the response with its body read: for
// handshakes a server must refuse, and requests no client would send.
func Request(t testing.TB, addr, request string) (*http.Response, string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.SetDeadline(time.Now().Add(Timeout)))
	_, err = io.WriteString(nc, strings.ReplaceAll(request, "\n", "\r\n"))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}
