package websocket

// Conformance cases for our server only: the opening handshake as RFC 6455
// section 4.2 and Tornado's statuses define it, and the rule that a client's
// frames must be masked.

import (
	"bufio"
	"errors"
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

// TestConformanceServerMasking: a server must fail the connection when a
// client frame, data or control, arrives unmasked (RFC 6455 section 5.1).
func TestConformanceServerMasking(t *testing.T) {
	t.Parallel()
	runConfCases(t, []confCase{
		{name: "unmasked text", roles: confServerOnly, steps: []confStep{
			{send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpText), Payload: []byte("Hello"), BadMask: true}}}, fail: StatusProtocolError},
		{name: "unmasked empty binary after a good message", roles: confServerOnly, steps: []confStep{
			cfText("good"), {send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpBinary), BadMask: true}}, cfWantText("good")}, fail: StatusProtocolError},
		{name: "unmasked ping", roles: confServerOnly, steps: []confStep{
			{send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpPing), Payload: []byte("p"), BadMask: true}}}, fail: StatusProtocolError},
		{name: "unmasked continuation", roles: confServerOnly, steps: []confStep{
			cfFrag(rawpeer.OpText, false, "masked"), {send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpContinuation), Payload: []byte("not"), BadMask: true}}},
			fail: StatusProtocolError},
		{name: "unmasked close", roles: confServerOnly, steps: []confStep{
			{send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpClose), Payload: rawpeer.ClosePayload(1000, ""), BadMask: true}}}, fail: StatusProtocolError},
	})
}

// confHandshakeCase is one opening handshake sent by hand to our server.
type confHandshakeCase struct {
	name    string
	opts    AcceptOptions
	request string // request line and header lines, each ending in \r\n; {host} and {key} are filled in
	status  int
	body    string      // exact body of a rejection
	header  http.Header // response header fields that must be present with these values
	absent  []string    // response header fields that must be absent
}

// confGoodRequest is a valid handshake request; cases edit copies of it.
const confGoodRequest = "GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"

// confEdit returns confGoodRequest with old replaced by new (old must occur).
func confEdit(old, new string) string {
	if !strings.Contains(confGoodRequest, old) {
		panic("confEdit: " + old + " not in the request")
	}
	return strings.Replace(confGoodRequest, old, new, 1)
}

// TestConformanceServerHandshake sends good and bad opening handshakes to
// our server and checks the status, body and headers of each response, and
// that Accept returns a *HandshakeError with the same status and message.
func TestConformanceServerHandshake(t *testing.T) {
	t.Parallel()
	const (
		badUpgrade    = `Can "Upgrade" only to "WebSocket".`
		badConnection = `"Connection" must be "Upgrade".`
		crossOrigin   = "Cross origin websockets not allowed"
		badKey        = "Missing/Invalid WebSocket key"
	)
	upgraded := http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}
	cases := []confHandshakeCase{
		{name: "good", request: confGoodRequest, status: 101, header: upgraded, absent: []string{"Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions"}},
		{name: "POST", request: confEdit("GET", "POST"), status: 405, body: "Method Not Allowed", header: http.Header{"Allow": {"GET"}}},
		{name: "POST without upgrade headers is still 405", request: "POST /ws HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n", status: 405, body: "Method Not Allowed"},
		{name: "HTTP/1.0", request: confEdit("HTTP/1.1", "HTTP/1.0"), status: 400, body: "WebSocket requires HTTP/1.1"},
		{name: "Upgrade missing", request: confEdit("Upgrade: websocket\r\n", ""), status: 400, body: badUpgrade},
		{name: "Upgrade h2c", request: confEdit("Upgrade: websocket", "Upgrade: h2c"), status: 400, body: badUpgrade},
		{name: "Upgrade checked before Connection", request: confEdit("Upgrade: websocket\r\nConnection: Upgrade", "Upgrade: h2c\r\nConnection: close"), status: 400, body: badUpgrade},
		{name: "Connection keep-alive", request: confEdit("Connection: Upgrade", "Connection: keep-alive"), status: 400, body: badConnection},
		{name: "Connection missing", request: confEdit("Connection: Upgrade\r\n", ""), status: 400, body: badConnection},
		{name: "Upgrade token case-insensitive", request: confEdit("Upgrade: websocket", "Upgrade: WebSocket"), status: 101, header: upgraded},
		{name: "Upgrade token in a list", request: confEdit("Upgrade: websocket", "Upgrade: foo/2, websocket"), status: 101, header: upgraded},
		{name: "Connection token in a list", request: confEdit("Connection: Upgrade", "Connection: keep-alive, Upgrade"), status: 101, header: upgraded},
		{name: "Connection token case-insensitive", request: confEdit("Connection: Upgrade", "Connection: UPGRADE"), status: 101, header: upgraded},
		{name: "Connection over two lines", request: confEdit("Connection: Upgrade", "Connection: keep-alive\r\nConnection: upgrade"), status: 101, header: upgraded},
		{name: "cross origin", request: confGoodRequest + "Origin: http://evil.example\r\n", status: 403, body: crossOrigin},
		{name: "origin null", request: confGoodRequest + "Origin: null\r\n", status: 403, body: crossOrigin},
		{name: "cross origin other port", request: confEdit("Host: {host}", "Host: ws.example:8080") + "Origin: http://ws.example:8081\r\n", status: 403, body: crossOrigin},
		{name: "origin checked before version", request: confEdit("Version: 13", "Version: 8") + "Origin: http://evil.example\r\n", status: 403, body: crossOrigin},
		{name: "same origin case-insensitive", request: confEdit("Host: {host}", "Host: WS.Example.com") + "Origin: http://ws.example.COM\r\n", status: 101, header: upgraded},
		{name: "origin allowed by CheckOrigin", opts: AcceptOptions{CheckOrigin: func(*http.Request) bool { return true }},
			request: confGoodRequest + "Origin: http://evil.example\r\n", status: 101, header: upgraded},
		{name: "version 8", request: confEdit("Version: 13", "Version: 8"), status: 426, body: "Upgrade Required", header: http.Header{"Sec-Websocket-Version": {"13"}}},
		{name: "version missing", request: confEdit("Sec-WebSocket-Version: 13\r\n", ""), status: 426, body: "Upgrade Required", header: http.Header{"Sec-Websocket-Version": {"13"}}},
		{name: "version 14", request: confEdit("Version: 13", "Version: 14"), status: 426, body: "Upgrade Required", header: http.Header{"Sec-Websocket-Version": {"13"}}},
		{name: "key missing", request: confEdit("Sec-WebSocket-Key: {key}\r\n", ""), status: 400, body: badKey},
		{name: "key of 15 bytes", request: confEdit("{key}", "AAECAwQFBgcICQoLDA0O"), status: 400, body: badKey},
		{name: "key of 17 bytes", request: confEdit("{key}", "AAECAwQFBgcICQoLDA0ODxA="), status: 400, body: badKey},
		{name: "key not base64", request: confEdit("{key}", "!!not*base64 at all!!==="), status: 400, body: badKey},
		{name: "no subprotocol in common", opts: AcceptOptions{Subprotocols: []string{"chat", "superchat"}},
			request: confGoodRequest + "Sec-WebSocket-Protocol: foo, bar\r\n", status: 101, header: upgraded, absent: []string{"Sec-WebSocket-Protocol"}},
		{name: "subprotocol offered but server has none", request: confGoodRequest + "Sec-WebSocket-Protocol: chat\r\n",
			status: 101, header: upgraded, absent: []string{"Sec-WebSocket-Protocol"}},
		{name: "subprotocol by server preference", opts: AcceptOptions{Subprotocols: []string{"chat", "superchat"}},
			request: confGoodRequest + "Sec-WebSocket-Protocol: superchat, chat\r\n", status: 101, header: http.Header{"Sec-Websocket-Protocol": {"chat"}}},
		{name: "subprotocol over two header lines", opts: AcceptOptions{Subprotocols: []string{"superchat"}},
			request: confGoodRequest + "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: superchat\r\n", status: 101, header: http.Header{"Sec-Websocket-Protocol": {"superchat"}}},
		{name: "SelectSubprotocol", opts: AcceptOptions{Subprotocols: []string{"chat"}, SelectSubprotocol: func(offered []string) string { return offered[len(offered)-1] }},
			request: confGoodRequest + "Sec-WebSocket-Protocol: chat, v2.json\r\n", status: 101, header: http.Header{"Sec-Websocket-Protocol": {"v2.json"}}},
		{name: "SelectSubprotocol declines", opts: AcceptOptions{SelectSubprotocol: func([]string) string { return "" }},
			request: confGoodRequest + "Sec-WebSocket-Protocol: chat\r\n", status: 101, header: upgraded, absent: []string{"Sec-WebSocket-Protocol"}},
		{name: "extra response header", opts: AcceptOptions{Header: http.Header{"X-Tornago": {"yes"}}},
			request: confGoodRequest, status: 101, header: http.Header{"X-Tornago": {"yes"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			accepted := make(chan error, 1)
			subprotocol := make(chan string, 1)
			opts := tc.opts
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := Accept(w, r, &opts)
				accepted <- err
				if err == nil {
					subprotocol <- c.Subprotocol()
					_ = c.CloseNow()
				}
			}))
			defer srv.Close()
			addr := srv.Listener.Addr().String()
			key := rawpeer.NewKey()
			req := strings.NewReplacer("{host}", addr, "{key}", key).Replace(tc.request) + "\r\n"

			conn, err := net.DialTimeout("tcp", addr, rawpeer.Timeout)
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(rawpeer.Timeout)))
			_, err = io.WriteString(conn, req)
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodGet})
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)

			require.Equal(t, tc.status, resp.StatusCode, "status; body %q", body)
			for name, values := range tc.header {
				assert.Equal(t, values, resp.Header.Values(name), "response header %s", name)
			}
			for _, name := range tc.absent {
				assert.Empty(t, resp.Header.Values(name), "response header %s", name)
			}
			var acceptErr error
			select {
			case acceptErr = <-accepted:
			case <-time.After(rawpeer.Timeout):
				t.Fatal("Accept did not return")
			}
			if tc.status == http.StatusSwitchingProtocols {
				require.NoError(t, acceptErr)
				assert.Equal(t, rawpeer.AcceptKey(key), resp.Header.Get("Sec-WebSocket-Accept"))
				assert.Equal(t, resp.Header.Get("Sec-WebSocket-Protocol"), <-subprotocol, "Conn.Subprotocol")
				return
			}
			assert.Equal(t, tc.body, string(body), "response body")
			assert.Empty(t, resp.Header.Values("Sec-WebSocket-Accept"))
			var he *HandshakeError
			require.True(t, errors.As(acceptErr, &he), "Accept error %v is not a *HandshakeError", acceptErr)
			assert.Equal(t, tc.status, he.Status, "HandshakeError.Status")
			assert.Equal(t, tc.body, he.Message, "HandshakeError.Message")
		})
	}
}

// TestConformanceServerFramesBeforeHandshakeEnds checks that frames the
// client sends right behind its handshake request, in the same write, are
// not lost: the server must read them from what it buffered with the
// request.
func TestConformanceServerFramesBeforeHandshakeEnds(t *testing.T) {
	t.Parallel()
	cp := confConnectServerEarly(t)
	cp.peer.Expect(rawpeer.OpText, []byte("early"), "echo of the frame sent with the request")
	cp.peer.Queue(rawpeer.Frame{B0: fin | byte(rawpeer.OpClose), Payload: rawpeer.ClosePayload(1000, "")})
	cp.peer.ExpectCloseCode(1000, "close echo")
	cp.peer.ExpectTCPClose(confTCPCloseWait, "after the close")
	confCloseError(t, cp.wait(t), 1000, "")
}

// confConnectServerEarly is confConnectServer with a text frame "early"
// written in the same write as the handshake request.
func confConnectServerEarly(t *testing.T) *confPair {
	result := make(chan error, 1)
	conns := make(chan *Conn, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, &AcceptOptions{ConnOptions: ConnOptions{CloseTimeout: confCloseTimeout}})
		if err != nil {
			result <- err
			return
		}
		confRun(c, confEcho, result, conns, release)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	addr := srv.Listener.Addr().String()
	conn, err := net.DialTimeout("tcp", addr, rawpeer.Timeout)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	key := rawpeer.NewKey()
	p := rawpeer.New(t, conn, true)
	p.QueueBytes([]byte(strings.NewReplacer("{host}", addr, "{key}", key).Replace(confGoodRequest) + "\r\n"))
	p.Queue(rawpeer.Frame{B0: fin | byte(rawpeer.OpText), Payload: []byte("early")})
	p.Flush()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(rawpeer.Timeout)))
	resp, err := http.ReadResponse(p.R, &http.Request{Method: http.MethodGet})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	return &confPair{peer: p, result: result, conn: conns}
}
