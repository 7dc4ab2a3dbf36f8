package websocket

// Conformance cases for our client only: the opening handshake from the
// client's side (RFC 6455 section 4.1), the rule that a server's frames must
// not be masked, and who closes TCP at the end.

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/rawpeer"
)

// TestConformanceClientMasking: a client must fail the connection when a
// server frame, data or control, arrives masked (RFC 6455 section 5.1).
func TestConformanceClientMasking(t *testing.T) {
	t.Parallel()
	runConfCases(t, []confCase{
		{name: "masked text", roles: confClientOnly, steps: []confStep{
			{send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpText), Payload: []byte("Hello"), BadMask: true}}}, fail: StatusProtocolError},
		{name: "masked empty binary after a good message", roles: confClientOnly, steps: []confStep{
			cfText("good"), {send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpBinary), BadMask: true}}, cfWantText("good")}, fail: StatusProtocolError},
		{name: "masked ping", roles: confClientOnly, steps: []confStep{
			{send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpPing), Payload: []byte("p"), BadMask: true}}}, fail: StatusProtocolError},
		{name: "masked continuation", roles: confClientOnly, steps: []confStep{
			cfFrag(rawpeer.OpText, false, "plain"), {send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpContinuation), Payload: []byte("masked"), BadMask: true}}},
			fail: StatusProtocolError},
		{name: "masked close", roles: confClientOnly, steps: []confStep{
			{send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpClose), Payload: rawpeer.ClosePayload(1000, ""), BadMask: true}}}, fail: StatusProtocolError},
	})
}

// TestConformanceClientWaitsForServerClose: after echoing the server's
// close, our client leaves the TCP close to the server (RFC 6455 section
// 7.1.1), and its read then reports the server's close.
func TestConformanceClientWaitsForServerClose(t *testing.T) {
	t.Parallel()
	cp := confConnect(t, false, ConnOptions{CloseTimeout: confCloseTimeout}, confEcho)
	p := cp.peer
	p.Queue(rawpeer.Frame{B0: fin | byte(rawpeer.OpClose), Payload: rawpeer.ClosePayload(4001, "server leaving")})
	p.ExpectCloseCode(4001, "close echo")
	require.NoError(t, p.Conn.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	var b [1]byte
	_, err := p.R.Read(b[:])
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded, "our client closed TCP before the server did")
	p.Conn.Close()
	confCloseError(t, cp.wait(t), 4001, "server leaving")
}

// TestConformanceClientClosesAfterTimeout: when the server never closes
// TCP after the closing handshake, our client does so after CloseTimeout.
func TestConformanceClientClosesAfterTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	cp := confConnect(t, false, ConnOptions{CloseTimeout: timeout}, func(ctx context.Context, c *Conn) error {
		return c.Close(StatusNormalClosure, "")
	})
	p := cp.peer
	p.ExpectCloseCode(uint16(StatusNormalClosure), "our client's close")
	p.Queue(rawpeer.Frame{B0: fin | byte(rawpeer.OpClose), Payload: rawpeer.ClosePayload(1000, "")})
	start := time.Now()
	p.Flush()
	p.ExpectTCPClose(rawpeer.Timeout, "our client, CloseTimeout after the handshake")
	assert.Less(t, time.Since(start), timeout+time.Second, "our client waited too long")
	assert.NoError(t, cp.wait(t), "Close")
}

// confFakeServer listens on a local port and answers one connection with
// respond, given our client's request; it returns the address to dial.
func confFakeServer(t *testing.T, respond func(req *http.Request, conn net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(rawpeer.Timeout))
		br := bufio.NewReader(conn)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		respond(req, conn)
		// Hold the connection until our client hangs up.
		_, _ = io.Copy(io.Discard, br)
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// confRespond101 answers with a 101 whose header lines are lines, with
// {accept} replaced by the right Sec-WebSocket-Accept.
func confRespond101(lines ...string) func(*http.Request, net.Conn) {
	return func(req *http.Request, conn net.Conn) {
		resp := "HTTP/1.1 101 Switching Protocols\r\n"
		for _, l := range lines {
			resp += strings.ReplaceAll(l, "{accept}", rawpeer.AcceptKey(req.Header.Get("Sec-WebSocket-Key"))) + "\r\n"
		}
		_, _ = io.WriteString(conn, resp+"\r\n")
	}
}

// TestConformanceClientHandshake checks what our client sends and which
// handshake responses it must refuse.
func TestConformanceClientHandshake(t *testing.T) {
	t.Parallel()
	const (
		upgrade    = "Upgrade: websocket"
		connection = "Connection: Upgrade"
		accept     = "Sec-WebSocket-Accept: {accept}"
	)
	bad := []struct {
		name  string
		opts  DialOptions
		lines []string
	}{
		{"wrong Sec-WebSocket-Accept", DialOptions{}, []string{upgrade, connection, "Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ=="}},
		{"Sec-WebSocket-Accept missing", DialOptions{}, []string{upgrade, connection}},
		{"Upgrade missing", DialOptions{}, []string{connection, accept}},
		{"Upgrade not websocket", DialOptions{}, []string{"Upgrade: h2c", connection, accept}},
		{"Connection missing", DialOptions{}, []string{upgrade, accept}},
		{"subprotocol not offered", DialOptions{Subprotocols: []string{"chat"}}, []string{upgrade, connection, accept, "Sec-WebSocket-Protocol: superchat"}},
		{"subprotocol when none offered", DialOptions{}, []string{upgrade, connection, accept, "Sec-WebSocket-Protocol: chat"}},
		{"extension not offered", DialOptions{}, []string{upgrade, connection, accept, "Sec-WebSocket-Extensions: x-unknown"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := confFakeServer(t, confRespond101(tc.lines...))
			ctx, cancel := context.WithTimeout(context.Background(), rawpeer.Timeout)
			defer cancel()
			c, resp, err := Dial(ctx, "ws://"+addr+"/ws", &tc.opts)
			if resp != nil && resp.Body != nil {
				resp.Body.Close()
			}
			if c != nil {
				c.CloseNow()
			}
			require.Error(t, err, "Dial accepted a bad handshake response")
			assert.Nil(t, c)
		})
	}

	t.Run("request and accepted subprotocol", func(t *testing.T) {
		t.Parallel()
		reqs := make(chan *http.Request, 1)
		addr := confFakeServer(t, func(req *http.Request, conn net.Conn) {
			reqs <- req
			confRespond101("upgrade: WebSocket", "connection: keep-alive, upgrade", accept, "Sec-WebSocket-Protocol: superchat")(req, conn)
		})
		ctx, cancel := context.WithTimeout(context.Background(), rawpeer.Timeout)
		defer cancel()
		c, _, err := Dial(ctx, "ws://"+addr+"/chat?room=1", &DialOptions{
			Subprotocols: []string{"chat", "superchat"},
			Header:       http.Header{"Origin": {"http://" + addr}, "X-Extra": {"1"}},
		})
		require.NoError(t, err)
		defer c.CloseNow()
		assert.Equal(t, "superchat", c.Subprotocol())
		req := <-reqs
		assert.Equal(t, http.MethodGet, req.Method)
		assert.Equal(t, "/chat?room=1", req.RequestURI)
		assert.Equal(t, "HTTP/1.1", req.Proto)
		assert.Equal(t, addr, req.Host)
		assert.True(t, rawpeer.HasToken(req.Header.Values("Upgrade"), "websocket"))
		assert.True(t, rawpeer.HasToken(req.Header.Values("Connection"), "upgrade"))
		assert.Equal(t, "13", req.Header.Get("Sec-WebSocket-Version"))
		assert.Equal(t, "http://"+addr, req.Header.Get("Origin"))
		assert.Equal(t, "1", req.Header.Get("X-Extra"))
		var offered []string
		for _, v := range req.Header.Values("Sec-WebSocket-Protocol") {
			for p := range strings.SplitSeq(v, ",") {
				offered = append(offered, strings.TrimSpace(p))
			}
		}
		assert.Equal(t, []string{"chat", "superchat"}, offered)
	})

	t.Run("non-101 status", func(t *testing.T) {
		t.Parallel()
		addr := confFakeServer(t, func(req *http.Request, conn net.Conn) {
			_, _ = io.WriteString(conn, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\ngo away")
		})
		ctx, cancel := context.WithTimeout(context.Background(), rawpeer.Timeout)
		defer cancel()
		c, resp, dialErr := Dial(ctx, "ws://"+addr+"/ws", nil)
		require.Error(t, dialErr)
		assert.Nil(t, c)
		require.NotNil(t, resp, "Dial must return the response")
		defer resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, "go away", string(body))
		var de *DialError
		require.True(t, errors.As(dialErr, &de), "error %v is not a *DialError", dialErr)
		assert.Same(t, resp, de.Response)
	})

	t.Run("200 to an upgrade", func(t *testing.T) {
		t.Parallel()
		addr := confFakeServer(t, func(req *http.Request, conn net.Conn) {
			_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
		})
		ctx, cancel := context.WithTimeout(context.Background(), rawpeer.Timeout)
		defer cancel()
		c, resp, err := Dial(ctx, "ws://"+addr+"/ws", nil)
		require.Error(t, err)
		assert.Nil(t, c)
		require.NotNil(t, resp)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})

	t.Run("server hangs up", func(t *testing.T) {
		t.Parallel()
		addr := confFakeServer(t, func(_ *http.Request, conn net.Conn) { conn.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), rawpeer.Timeout)
		defer cancel()
		c, resp, err := Dial(ctx, "ws://"+addr+"/ws", nil)
		require.Error(t, err)
		assert.Nil(t, c)
		assert.Nil(t, resp)
	})

	t.Run("handshake timeout", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		start := time.Now()
		c, _, err := Dial(context.Background(), "ws://"+ln.Addr().String()+"/ws", &DialOptions{HandshakeTimeout: 200 * time.Millisecond})
		require.Error(t, err)
		assert.Nil(t, c)
		assert.Less(t, time.Since(start), 2*time.Second)
	})

	t.Run("frames right behind the 101", func(t *testing.T) {
		t.Parallel()
		addr := confFakeServer(t, func(req *http.Request, conn net.Conn) {
			resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Accept: " + rawpeer.AcceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
			_, _ = io.WriteString(conn, resp+"\x81\x05early")
		})
		ctx, cancel := context.WithTimeout(context.Background(), rawpeer.Timeout)
		defer cancel()
		c, _, err := Dial(ctx, "ws://"+addr+"/ws", nil)
		require.NoError(t, err)
		defer c.CloseNow()
		typ, data, err := c.ReadMessage(ctx)
		require.NoError(t, err)
		assert.Equal(t, TextMessage, typ)
		assert.Equal(t, "early", string(data))
	})
}
