package websocket

// Helpers of the RFC 6455 conformance suite (conformance_test.go): a scripted
// peer that speaks raw frames over TCP, and the two ways of putting one of
// our Conns opposite it (our server against a scripted client, our client
// against a scripted server).

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// rawTimeout bounds every read and write of the scripted peer, so that
	// a frame that never comes fails the case instead of hanging it.
	rawTimeout = 5 * time.Second
	// confCloseTimeout is our Conn's CloseTimeout in the suite; a peer that
	// follows the script never lets it run out.
	confCloseTimeout = 4 * time.Second
	// confTCPCloseWait is how long the scripted peer waits for our side to
	// close TCP once the closing handshake is over (or the connection was
	// failed). It is shorter than confCloseTimeout, so a Conn that waits
	// for a timer instead of closing at once is caught.
	confTCPCloseWait = 2 * time.Second
	// confMaxFrame is the largest frame the scripted peer accepts from us.
	confMaxFrame = 64 << 20
)

// confGUID is the fixed string of RFC 6455 section 1.3 that the
// Sec-WebSocket-Accept value is derived with.
const confGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// confAcceptKey computes Sec-WebSocket-Accept for key, written here from
// RFC 6455 section 4.2.2 rather than taken from accept.go so the suite
// checks the core against the RFC and not against itself.
func confAcceptKey(key string) string {
	sum := sha1.Sum([]byte(key + confGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// confNewKey returns a fresh Sec-WebSocket-Key: 16 random bytes in base64.
func confNewKey() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return base64.StdEncoding.EncodeToString(b[:])
}

// rawFrame is a frame as the scripted peer puts it on the wire.
type rawFrame struct {
	b0      byte // FIN, RSV1-3 and opcode, exactly as sent
	payload []byte
	// declared, when nonzero, is sent as the payload length in place of
	// len(payload), and only payload follows: a header that announces more
	// than will ever arrive.
	declared uint64
	// badMask sends the frame with the masking the peer's role must not
	// use: unmasked from a client, masked from a server.
	badMask bool
}

// rawWant is what the scripted peer expects to read next: a whole data
// message (our side may fragment it however it likes) or one control frame.
type rawWant struct {
	op      opcode
	payload []byte
}

// rawPeer is the scripted side of a conformance case: it writes frames
// byte for byte as the case says and checks every frame that comes back.
type rawPeer struct {
	t      testing.TB
	conn   net.Conn
	br     *bufio.Reader
	client bool   // the peer plays the client: it masks, and our frames must not be masked
	chop   bool   // write one byte per write call (Autobahn's "chopped" variants)
	out    []byte // frames queued and not yet flushed
}

// queue appends f to the bytes the next flush writes; consecutive frames
// thus leave in one write, as a fast peer would send them.
func (p *rawPeer) queue(f rawFrame) {
	masked := p.client != f.badMask
	var b1 byte
	if masked {
		b1 = bitMask
	}
	n := uint64(len(f.payload))
	if f.declared != 0 {
		n = f.declared
	}
	switch {
	case n <= 125:
		p.out = append(p.out, f.b0, b1|byte(n))
	case n <= 0xffff:
		p.out = append(p.out, f.b0, b1|126)
		p.out = binary.BigEndian.AppendUint16(p.out, uint16(n))
	default:
		p.out = append(p.out, f.b0, b1|127)
		p.out = binary.BigEndian.AppendUint64(p.out, n)
	}
	if !masked {
		p.out = append(p.out, f.payload...)
		return
	}
	key := rand.Uint32() | 1 // never the all-zero key, which would hide a missing unmask
	p.out = binary.LittleEndian.AppendUint32(p.out, key)
	start := len(p.out)
	p.out = append(p.out, f.payload...)
	maskBytes(key, p.out[start:])
}

// flush writes the queued frames. A write that meets a connection our
// side has closed or reset is only logged: our side may fail the
// connection and close TCP before the peer has written everything (a
// chopped frame, data after a violation), and what matters is the close
// frame it sent, which is then read. Any other write error fails the test.
func (p *rawPeer) flush() {
	p.t.Helper()
	err := p.tryFlush()
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		p.t.Logf("scripted peer: write: %v", err)
		return
	}
	require.NoError(p.t, err, "scripted peer: write")
}

// tryFlush writes the queued frames and returns the write error, for the
// writes that may legitimately meet a connection our side already closed.
func (p *rawPeer) tryFlush() error {
	out := p.out
	p.out = p.out[:0]
	if len(out) == 0 {
		return nil
	}
	if err := p.conn.SetWriteDeadline(time.Now().Add(rawTimeout)); err != nil {
		return err
	}
	if !p.chop {
		_, err := p.conn.Write(out)
		return err
	}
	for i := range out {
		if _, err := p.conn.Write(out[i : i+1]); err != nil {
			return err
		}
	}
	return nil
}

// readFrame reads one frame from our side, checks what must hold for every
// frame we send (masking by role, no RSV bits, known opcode, control frame
// rules) and returns it unmasked.
func (p *rawPeer) readFrame() (header, []byte, error) {
	if err := p.conn.SetReadDeadline(time.Now().Add(rawTimeout)); err != nil {
		return header{}, nil, err
	}
	var hb [maxHeaderSize]byte
	if _, err := io.ReadFull(p.br, hb[:2]); err != nil {
		return header{}, nil, fmt.Errorf("reading frame header: %w", err)
	}
	n := headerSize(hb[1])
	if _, err := io.ReadFull(p.br, hb[2:n]); err != nil {
		return header{}, nil, fmt.Errorf("reading frame header: %w", err)
	}
	h, _, err := parseHeader(hb[:n])
	if err != nil {
		return h, nil, fmt.Errorf("our side sent a bad header % x: %w", hb[:n], err)
	}
	switch {
	case h.masked == p.client && p.client:
		return h, nil, fmt.Errorf("our server sent a masked %s frame", h.op)
	case h.masked == p.client:
		return h, nil, fmt.Errorf("our client sent an unmasked %s frame", h.op)
	case h.rsv1 || h.rsv2 || h.rsv3:
		return h, nil, fmt.Errorf("our side set RSV bits on a %s frame", h.op)
	case h.op != opContinuation && !h.op.isData() && h.op != opClose && h.op != opPing && h.op != opPong:
		return h, nil, fmt.Errorf("our side sent reserved opcode %s", h.op)
	case h.op.isControl() && (!h.fin || h.length > maxControlPayload):
		return h, nil, fmt.Errorf("our side sent a bad control frame: fin %v, length %d", h.fin, h.length)
	case h.length > confMaxFrame:
		return h, nil, fmt.Errorf("our side sent a %d-byte frame", h.length)
	}
	payload := make([]byte, h.length)
	if _, err := io.ReadFull(p.br, payload); err != nil {
		return h, nil, fmt.Errorf("reading %d-byte %s payload: %w", h.length, h.op, err)
	}
	if h.masked {
		maskBytes(h.key, payload)
	}
	return h, payload, nil
}

// readMessage reads a control frame, or a data message in as many
// fragments as our side chose.
func (p *rawPeer) readMessage() (opcode, []byte, error) {
	h, payload, err := p.readFrame()
	if err != nil {
		return 0, nil, err
	}
	if h.op == opContinuation {
		return h.op, nil, errors.New("our side sent a continuation frame outside a message")
	}
	op := h.op
	for !h.fin {
		var more []byte
		h, more, err = p.readFrame()
		if err != nil {
			return op, nil, err
		}
		if h.op != opContinuation {
			return op, nil, fmt.Errorf("our side sent a %s frame inside a fragmented %s message", h.op, op)
		}
		payload = append(payload, more...)
	}
	return op, payload, nil
}

// expect flushes what is queued and reads the message or control frame w.
func (p *rawPeer) expect(w rawWant, what string) {
	p.t.Helper()
	p.flush()
	op, payload, err := p.readMessage()
	require.NoError(p.t, err, "%s: expected %s", what, w.op)
	require.Equal(p.t, w.op, op, "%s: opcode", what)
	if len(payload) > 256 || len(w.payload) > 256 {
		require.Equal(p.t, len(w.payload), len(payload), "%s: payload length", what)
		require.True(p.t, string(w.payload) == string(payload), "%s: payload differs", what)
		return
	}
	require.Equal(p.t, string(w.payload), string(payload), "%s: payload", what)
}

// expectClose flushes and reads a close frame from our side, skipping
// nothing: any other frame first fails the test.
func (p *rawPeer) expectClose(what string) []byte {
	p.t.Helper()
	p.flush()
	op, payload, err := p.readMessage()
	require.NoError(p.t, err, "%s: expected a close frame", what)
	require.Equal(p.t, opClose, op, "%s: expected a close frame, got %s %q", what, op, confShort(payload))
	return payload
}

// expectCloseCode reads a close frame and checks that it carries code and
// a valid reason.
func (p *rawPeer) expectCloseCode(code StatusCode, what string) {
	p.t.Helper()
	payload := p.expectClose(what)
	require.GreaterOrEqual(p.t, len(payload), 2, "%s: close frame without a code; want %s", what, code)
	ce, err := parseClosePayload(payload)
	require.NoError(p.t, err, "%s: our close frame is invalid", what)
	require.Equal(p.t, code, ce.Code, "%s: close code (reason %q)", what, ce.Reason)
}

// expectTCPClose checks that our side closes the TCP connection within
// wait, sending nothing more, and then closes the peer's end too, as a
// real peer does on end of stream (our side may linger until it sees that).
func (p *rawPeer) expectTCPClose(wait time.Duration, what string) {
	p.t.Helper()
	defer p.conn.Close()
	require.NoError(p.t, p.conn.SetReadDeadline(time.Now().Add(wait)))
	var b [64]byte
	n, err := p.br.Read(b[:])
	require.Zero(p.t, n, "%s: our side sent % x after the close", what, b[:n])
	if errors.Is(err, os.ErrDeadlineExceeded) {
		p.t.Fatalf("%s: our side did not close TCP within %v", what, wait)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		p.t.Fatalf("%s: waiting for TCP close: %v", what, err)
	}
}

// confServe is what our side does with its Conn in a case; its result is
// checked against the case's expectation.
type confServe func(ctx context.Context, c *Conn) error

// confEcho echoes every message with its type until a read fails, and
// returns the read error: the behaviour Autobahn's fuzzing peers test.
func confEcho(ctx context.Context, c *Conn) error {
	for {
		typ, data, err := c.ReadMessage(ctx)
		if err != nil {
			return err
		}
		if err := c.WriteMessage(ctx, typ, data); err != nil {
			return fmt.Errorf("echo write: %w", err)
		}
	}
}

// confPair is one conformance connection: the scripted peer and our side.
type confPair struct {
	peer   *rawPeer
	result <-chan error // what serve returned (or Accept/Dial's error)
	conn   <-chan *Conn // our Conn, once the handshake is done
}

// wait returns our side's result, failing the test if it does not come.
func (cp *confPair) wait(t testing.TB) error {
	t.Helper()
	select {
	case err := <-cp.result:
		return err
	case <-time.After(2 * rawTimeout):
		t.Fatal("our side did not finish")
		return nil
	}
}

// confConnect sets up our side (our server if ourServer, else our client)
// with opts, running serve, against a scripted peer on a real TCP
// connection. Our Conn is closed (CloseNow) only at the end of the test,
// so that the script can check who closes TCP and when.
func confConnect(t *testing.T, ourServer bool, opts ConnOptions, serve confServe) *confPair {
	t.Helper()
	if ourServer {
		return confConnectServer(t, &AcceptOptions{ConnOptions: opts}, serve)
	}
	return confConnectClient(t, &DialOptions{ConnOptions: opts}, serve)
}

// confRun runs serve on c, reports its result and our Conn, and keeps c
// open until release is closed.
func confRun(c *Conn, serve confServe, result chan<- error, conns chan<- *Conn, release <-chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*rawTimeout)
	defer cancel()
	conns <- c
	result <- serve(ctx, c)
	<-release
	_ = c.CloseNow()
}

// confConnectServer starts an httptest server whose handler accepts with
// opts and runs serve, and connects a scripted client to it.
func confConnectServer(t *testing.T, opts *AcceptOptions, serve confServe) *confPair {
	t.Helper()
	result := make(chan error, 1)
	conns := make(chan *Conn, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, opts)
		if err != nil {
			result <- fmt.Errorf("accept: %w", err)
			return
		}
		confRun(c, serve, result, conns, release)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	peer := confDialRaw(t, srv.Listener.Addr().String(), nil)
	return &confPair{peer: peer, result: result, conn: conns}
}

// confDialRaw opens a TCP connection to addr and performs the client's
// opening handshake by hand, with extra request header lines.
func confDialRaw(t *testing.T, addr string, extra []string) *rawPeer {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, rawTimeout)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	key := confNewKey()
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n"
	for _, line := range extra {
		req += line + "\r\n"
	}
	require.NoError(t, conn.SetDeadline(time.Now().Add(rawTimeout)))
	_, err = io.WriteString(conn, req+"\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	require.NoError(t, err, "reading the handshake response")
	resp.Body.Close()
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode, "handshake status")
	require.Equal(t, confAcceptKey(key), resp.Header.Get("Sec-WebSocket-Accept"))
	require.NoError(t, conn.SetDeadline(time.Time{}))
	return &rawPeer{t: t, conn: conn, br: br, client: true}
}

// confConnectClient listens on a local port, dials it with our client and
// answers the opening handshake by hand.
func confConnectClient(t *testing.T, opts *DialOptions, serve confServe) *confPair {
	t.Helper()
	result := make(chan error, 1)
	conns := make(chan *Conn, 1)
	release := make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
		c, resp, err := Dial(ctx, "ws://"+ln.Addr().String()+"/ws", opts)
		cancel()
		if resp != nil && resp.Body != nil && c == nil {
			resp.Body.Close()
		}
		if err != nil {
			result <- fmt.Errorf("dial: %w", err)
			return
		}
		confRun(c, serve, result, conns, release)
	}()
	t.Cleanup(func() { <-done })
	t.Cleanup(func() { close(release) })
	conn := confAcceptRaw(t, ln)
	br := bufio.NewReader(conn)
	req := confReadRequest(t, conn, br)
	key := req.Header.Get("Sec-WebSocket-Key")
	_, err = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: "+confAcceptKey(key)+"\r\n\r\n")
	require.NoError(t, err)
	require.NoError(t, conn.SetDeadline(time.Time{}))
	return &confPair{peer: &rawPeer{t: t, conn: conn, br: br}, result: result, conn: conns}
}

// confAcceptRaw accepts one connection on ln within rawTimeout.
func confAcceptRaw(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	require.NoError(t, ln.(*net.TCPListener).SetDeadline(time.Now().Add(rawTimeout)))
	conn, err := ln.Accept()
	require.NoError(t, err, "our client did not connect")
	t.Cleanup(func() { conn.Close() })
	return conn
}

// confReadRequest reads our client's opening handshake request and checks
// the parts RFC 6455 section 4.1 makes mandatory.
func confReadRequest(t *testing.T, conn net.Conn, br *bufio.Reader) *http.Request {
	t.Helper()
	require.NoError(t, conn.SetDeadline(time.Now().Add(rawTimeout)))
	req, err := http.ReadRequest(br)
	require.NoError(t, err, "reading our client's handshake request")
	assert.Equal(t, http.MethodGet, req.Method)
	assert.Equal(t, "HTTP/1.1", req.Proto)
	assert.True(t, confHasToken(req.Header, "Upgrade", "websocket"), "Upgrade: %q", req.Header.Values("Upgrade"))
	assert.True(t, confHasToken(req.Header, "Connection", "upgrade"), "Connection: %q", req.Header.Values("Connection"))
	assert.Equal(t, "13", req.Header.Get("Sec-WebSocket-Version"))
	key, err := base64.StdEncoding.DecodeString(req.Header.Get("Sec-WebSocket-Key"))
	assert.NoError(t, err, "Sec-WebSocket-Key")
	assert.Len(t, key, 16, "Sec-WebSocket-Key")
	assert.NotEmpty(t, req.Host, "Host")
	return req
}

// confHasToken reports whether a comma-separated header field holds token,
// compared case-insensitively.
func confHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}

// confProtocolError checks that err is the *ProtocolError a read returns
// after our side failed the connection with code.
func confProtocolError(t testing.TB, err error, code StatusCode) {
	t.Helper()
	var pe *ProtocolError
	require.ErrorAs(t, err, &pe, "our side's read error")
	assert.Equal(t, code, pe.Code, "ProtocolError.Code (reason %q)", pe.Reason)
	assert.ErrorIs(t, err, ErrProtocol)
	assert.ErrorIs(t, err, ErrClosed)
	if code == StatusMessageTooBig {
		assert.ErrorIs(t, err, ErrMessageTooBig)
	}
}

// confCloseError checks that err is the *CloseError a read returns after
// the peer closed with code and reason.
func confCloseError(t testing.TB, err error, code StatusCode, reason string) {
	t.Helper()
	var ce *CloseError
	require.ErrorAs(t, err, &ce, "our side's read error")
	assert.Equal(t, code, ce.Code, "CloseError.Code")
	assert.Equal(t, reason, ce.Reason, "CloseError.Reason")
	assert.ErrorIs(t, err, ErrClosed)
}

// confShort abbreviates a payload for a failure message.
func confShort(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q... (%d bytes)", b[:40], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// confClosePayload encodes a close frame payload by hand, so that a case
// can send codes and reasons our own encoder would refuse.
func confClosePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// confTextOf returns n bytes of valid UTF-8 text mixing one-, two-, three-
// and four-byte runes, so that fragment boundaries fall inside runes.
func confTextOf(n int) []byte {
	const unit = "Hello, wörld! Γειά σου κόσμε, 世界 😀 "
	b := make([]byte, 0, n)
	for len(b)+len(unit) <= n {
		b = append(b, unit...)
	}
	for len(b) < n {
		b = append(b, 'x')
	}
	return b
}

// confBinaryOf returns n bytes cycling through every byte value.
func confBinaryOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}
