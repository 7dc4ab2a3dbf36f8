package websocket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/rawpeer"
)

// TestH2EchoSizes echoes messages of every length encoding's boundary
// over an HTTP/2 stream, and checks that the server saw an extended
// CONNECT (RFC 8441) on HTTP/2.
func TestH2EchoSizes(t *testing.T) {
	t.Parallel()
	s := h2EchoServer(t, nil)
	c := s.dial(t, nil)
	r := <-s.requests
	assert.Equal(t, 2, r.ProtoMajor)
	assert.Equal(t, http.MethodConnect, r.Method)
	assert.Equal(t, "websocket", r.Header.Get(":protocol"))
	assert.Empty(t, r.Header.Get("Sec-WebSocket-Key"), "RFC 8441 has no key")
	ctx := context.Background()
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 1 << 20} {
		for _, typ := range []MessageType{TextMessage, BinaryMessage} {
			msg := bytes.Repeat([]byte("a"), n)
			require.NoError(t, c.WriteMessage(ctx, typ, msg))
			gotTyp, got, err := c.ReadMessage(ctx)
			require.NoError(t, err)
			assert.Equal(t, typ, gotTyp)
			assert.True(t, bytes.Equal(msg, got), "size %d", n)
		}
	}
	require.NoError(t, c.Close(StatusNormalClosure, "done"))
	_, _, err := c.ReadMessage(ctx)
	assert.ErrorIs(t, err, ErrClosed)
}

// TestH2Fragmented sends a message in fragments both ways over HTTP/2:
// the client streams it with NextWriter, the server's echo is read back
// whole and through NextReader.
func TestH2Fragmented(t *testing.T) {
	t.Parallel()
	s := h2EchoServer(t, nil)
	c := s.dial(t, nil)
	ctx := context.Background()
	want := confTextOf(300 << 10)
	mw, err := c.NextWriter(ctx, TextMessage)
	require.NoError(t, err)
	for rest := want; len(rest) > 0; {
		n := min(len(rest), 7000)
		_, err := mw.Write(rest[:n])
		require.NoError(t, err)
		rest = rest[n:]
	}
	require.NoError(t, mw.Close())
	typ, got, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	assert.Equal(t, TextMessage, typ)
	assert.True(t, bytes.Equal(want, got), "the fragmented message comes back whole")
}

// TestH2Deflate negotiates permessage-deflate over HTTP/2, in the same
// headers as HTTP/1.1, and echoes compressible and incompressible
// messages through it.
func TestH2Deflate(t *testing.T) {
	t.Parallel()
	s := h2EchoServer(t, &AcceptOptions{Compression: &CompressionOptions{}})
	opts := s.dialOptions()
	opts.Compression = &CompressionOptions{}
	c := s.dial(t, opts)
	require.True(t, c.Compressed(), "permessage-deflate negotiated")
	r := <-s.requests
	assert.Contains(t, r.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
	ctx := context.Background()
	for _, msg := range [][]byte{bytes.Repeat([]byte("tornago "), 10000), confTextOf(70000), {}} {
		require.NoError(t, c.WriteMessage(ctx, BinaryMessage, msg))
		_, got, err := c.ReadMessage(ctx)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(msg, got), "size %d", len(msg))
	}
}

// TestH2Subprotocol: the server's choice travels in the 200's headers.
func TestH2Subprotocol(t *testing.T) {
	t.Parallel()
	s := h2EchoServer(t, &AcceptOptions{Subprotocols: []string{"chat.v2", "chat.v1"}, Header: http.Header{"X-Room": {"lobby"}}})
	opts := s.dialOptions()
	opts.Subprotocols = []string{"chat.v1", "chat.v2"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := Dial(ctx, s.url, opts)
	require.NoError(t, err)
	defer c.CloseNow()
	assert.Equal(t, "chat.v2", c.Subprotocol())
	assert.Equal(t, "lobby", resp.Header.Get("X-Room"), "extra headers ride on the 200")
}

// TestH2CloseCodes: a close code and reason cross an HTTP/2 stream in
// both directions, and the side that started the handshake gets the
// peer's echo.
func TestH2CloseCodes(t *testing.T) {
	t.Parallel()
	serverSaw := make(chan error, 1)
	s := newH2Server(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		_, msg, err := c.ReadMessage(context.Background())
		if err != nil {
			serverSaw <- err
			return
		}
		if string(msg) == "close me" {
			_ = c.Close(4001, "server says bye")
			serverSaw <- nil
			return
		}
		_, _, err = c.ReadMessage(context.Background())
		serverSaw <- err
	})
	ctx := context.Background()

	// The server closes.
	c := s.dial(t, nil)
	require.NoError(t, c.WriteMessage(ctx, TextMessage, []byte("close me")))
	_, _, err := c.ReadMessage(ctx)
	confCloseError(t, err, 4001, "server says bye")
	require.NoError(t, <-serverSaw)

	// The client closes.
	c = s.dial(t, nil)
	require.NoError(t, c.WriteMessage(ctx, TextMessage, []byte("wait")))
	require.NoError(t, c.Close(4002, "client says bye"))
	confCloseError(t, <-serverSaw, 4002, "client says bye")
}

// TestH2ManySocketsOneConnection opens 50 WebSockets at once through one
// transport: they are 50 streams of one TCP connection, and each echoes
// its own messages.
func TestH2ManySocketsOneConnection(t *testing.T) {
	t.Parallel()
	s := h2EchoServer(t, nil)
	const n = 50
	conns := make([]*Conn, n)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() { conns[i] = s.dial(t, nil) })
	}
	wg.Wait()
	ctx := context.Background()
	for round := range 3 {
		for i, c := range conns {
			wg.Go(func() {
				msg := fmt.Appendf(nil, "socket %d round %d", i, round)
				assert.NoError(t, c.WriteMessage(ctx, TextMessage, msg))
				_, got, err := c.ReadMessage(ctx)
				assert.NoError(t, err)
				assert.Equal(t, string(msg), string(got))
			})
		}
		wg.Wait()
	}
	assert.Equal(t, int32(1), s.tcpConns.Load(), "every socket is a stream of one TCP connection")
	for _, c := range conns {
		require.NoError(t, c.Close(StatusNormalClosure, ""))
	}
}

// TestH2ResetStream resets one socket's stream (as a browser tab that
// goes away does): the server sees a dropped connection (no close frame,
// what an application reports as 1006), and the other socket on the same
// TCP connection goes on working.
func TestH2ResetStream(t *testing.T) {
	t.Parallel()
	ended := make(chan error, 2)
	s := newH2Server(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		err = confEcho(context.Background(), c)
		ended <- err
	})
	ctx := context.Background()
	doomed, survivor := s.dial(t, nil), s.dial(t, nil)
	for _, c := range []*Conn{doomed, survivor} {
		require.NoError(t, c.WriteMessage(ctx, TextMessage, []byte("hi")))
		_, _, err := c.ReadMessage(ctx)
		require.NoError(t, err)
	}
	require.NoError(t, doomed.CloseNow()) // RST_STREAM, no close frame
	err := <-ended
	require.Error(t, err)
	var ce *CloseError
	assert.False(t, errors.As(err, &ce), "a reset stream is a dropped connection, not a close: %v", err)

	require.NoError(t, survivor.WriteMessage(ctx, TextMessage, []byte("still here")))
	_, got, err := survivor.ReadMessage(ctx)
	require.NoError(t, err)
	assert.Equal(t, "still here", string(got))
	assert.Equal(t, int32(1), s.tcpConns.Load())
	require.NoError(t, survivor.Close(StatusNormalClosure, ""))
	confCloseError(t, <-ended, StatusNormalClosure, "")
}

// TestH2ReadDeadlineLeavesStreamUsable: a read cut short by a context
// (a deadline on the stream) leaves the connection usable, as on a
// socket, though net/http's own stream deadline would close the body.
func TestH2ReadDeadlineLeavesStreamUsable(t *testing.T) {
	t.Parallel()
	s := h2EchoServer(t, nil)
	c := s.dial(t, nil)
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := c.ReadMessage(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	ctx := context.Background()
	require.NoError(t, c.WriteMessage(ctx, TextMessage, []byte("after the timeout")))
	_, got, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	assert.Equal(t, "after the timeout", string(got))
}

// TestH2HandshakeRefusals: over HTTP/2 the checks keep HTTP/1.1's
// statuses where they apply (origin 403, version 426) and refuse what
// cannot be a WebSocket there (GET 400, other methods 405), with the
// response a client can read.
func TestH2HandshakeRefusals(t *testing.T) {
	t.Parallel()
	s := h2EchoServer(t, nil)
	target := "https" + strings.TrimPrefix(s.url, "wss")
	var rt http.RoundTripper = s.transport
	cases := []struct {
		name   string
		method string
		header http.Header
		status int
		body   string
	}{
		{"GET", http.MethodGet, nil, http.StatusBadRequest, msgHTTP2Protocol},
		{"POST", http.MethodPost, nil, http.StatusMethodNotAllowed, msgMethod},
		{"other protocol", http.MethodConnect, http.Header{":protocol": {"webtransport"}, "Sec-Websocket-Version": {"13"}}, http.StatusBadRequest, msgHTTP2Protocol},
		{"cross origin", http.MethodConnect, http.Header{":protocol": {"websocket"}, "Sec-Websocket-Version": {"13"}, "Origin": {"https://evil.example"}}, http.StatusForbidden, msgOrigin},
		{"version 8", http.MethodConnect, http.Header{":protocol": {"websocket"}, "Sec-Websocket-Version": {"8"}}, http.StatusUpgradeRequired, msgVersion},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, target, http.NoBody)
			require.NoError(t, err)
			maps.Copy(req.Header, tc.header)
			resp, err := rt.RoundTrip(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, tc.body, string(body))
		})
	}
}

// TestH2HostileInput plays the frames no conforming client sends over an
// HTTP/2 stream and over HTTP/1.1, and requires the same close code from
// both: data after the close, a message over the limit, invalid UTF-8,
// an unmasked frame, a bad close code.
func TestH2HostileInput(t *testing.T) {
	t.Parallel()
	cases := []confCase{
		{name: "text after close ignored", steps: []confStep{cfClose(1000, ""), cfText("late")},
			closed: &CloseError{Code: 1000}},
		{name: "fragment after close ignored", steps: []confStep{
			cfFrag(rawpeer.OpText, false, "fragment1"), cfClose(1000, ""), cfFrag(rawpeer.OpContinuation, true, "fragment2")},
			closed: &CloseError{Code: 1000}},
		{name: "oversize message", limit: 1000, steps: []confStep{cfSend(fin|byte(rawpeer.OpBinary), confTextOf(1001))},
			fail: StatusMessageTooBig},
		{name: "oversize declared length", limit: 1 << 20, steps: []confStep{{send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpBinary), Declared: 1 << 40}}},
			fail: StatusMessageTooBig},
		{name: "invalid UTF-8", steps: []confStep{cfText("caf\xc3")}, fail: StatusInvalidFramePayloadData},
		{name: "unmasked frame", steps: []confStep{{send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpText), Payload: []byte("x"), BadMask: true}}},
			fail: StatusProtocolError},
		{name: "invalid close code", steps: []confStep{cfClose(1005, "")}, fail: StatusProtocolError},
		{name: "ping after close not answered", steps: []confStep{cfClose(1000, ""), cfPing("late")},
			closed: &CloseError{Code: 1000}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			t.Run("HTTP/1.1", func(t *testing.T) {
				t.Parallel()
				runConfCase(t, tc, true)
			})
			t.Run("HTTP/2", func(t *testing.T) {
				t.Parallel()
				cp := confConnectH2Server(t, &AcceptOptions{ConnOptions: tc.connOptions()}, confEcho)
				playConfCase(t, tc, cp, true)
			})
		})
	}
}

// TestH2DialStdlibTransportExplains: net/http's own Transport cannot send
// an extended CONNECT in Go 1.26; the dial says why and what to use
// instead, rather than only "invalid header field name".
func TestH2DialStdlibTransportExplains(t *testing.T) {
	t.Parallel()
	s := h2EchoServer(t, nil)
	var p http.Protocols
	p.SetHTTP2(true)
	tr := &http.Transport{TLSClientConfig: s.srv.Client().Transport.(*http.Transport).TLSClientConfig, Protocols: &p}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := Dial(ctx, s.url, &DialOptions{HTTP2Transport: tr})
	require.ErrorIs(t, err, errStdlibTransport)
	assert.Contains(t, err.Error(), "golang.org/x/net/http2")
}

// TestH2CloseWhileWriting ends streams while the server writes to them
// with contexts that set and clear write deadlines on every write, from
// both sides (the client resets, or the server closes): every write ends,
// every handler returns, nothing panics. (The orderings streamConn keeps
// for this, a write against Close and a deadline change against the
// handler's return, race in windows too narrow for a test to hit at will;
// this one runs the paths under the race detector.)
func TestH2CloseWhileWriting(t *testing.T) {
	t.Parallel()
	const rounds = 40
	var wg sync.WaitGroup
	s := newH2Server(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := c.WriteMessage(ctx, BinaryMessage, make([]byte, 1000))
				cancel()
				if err != nil {
					return
				}
				if i == 50 && r.URL.Query().Get("server") == "close" {
					c.CloseNow()
				}
			}
		}()
		go func() { _, _, _ = c.ReadMessage(context.Background()) }()
		<-c.Done()
	})
	for i := range rounds {
		query := "?server=close"
		if i%2 == 0 {
			query = "?client=reset"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, _, err := Dial(ctx, s.url+query, s.dialOptions())
		require.NoError(t, err)
		for range 20 {
			if _, _, err := c.ReadMessage(ctx); err != nil {
				break
			}
		}
		c.CloseNow()
		cancel()
	}
	wg.Wait()
}
