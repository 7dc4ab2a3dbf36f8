package rawpeer

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Timeout bounds every read and write of a Peer unless Peer.Timeout says
// otherwise, so that a frame that never comes fails the test instead of
// hanging it.
const Timeout = 5 * time.Second

// MaxFrame is the largest frame a Peer accepts from the other side.
const MaxFrame = 64 << 20

// Frame is a frame as a Peer puts it on the wire.
type Frame struct {
	B0      byte // FIN, RSV1-3 and opcode, exactly as sent
	Payload []byte
	// Declared, when nonzero, is sent as the payload length in place of
	// len(Payload), and only Payload follows: a header that announces more
	// than will ever arrive.
	Declared uint64
	// BadMask sends the frame with the masking the peer's role must not
	// use: unmasked from a client, masked from a server.
	BadMask bool
}

// Peer is the scripted side of a connection: it writes frames byte for
// byte as the test says and checks every frame that comes back. Its
// methods fail the test on errors it does not return.
type Peer struct {
	T    testing.TB
	Conn net.Conn
	// R reads from Conn; read through it, as it may hold bytes Conn has
	// already delivered.
	R *bufio.Reader
	// Client is set when the peer plays the client: it masks its frames,
	// and the other side's must not be masked.
	Client bool
	// Chop writes one byte per write call (Autobahn's "chopped" cases).
	Chop bool
	// Compressed allows RSV1 on the other side's data frames: set by Dial
	// when the server accepted permessage-deflate (RFC 7692).
	Compressed bool
	// Timeout bounds each read and write; zero means the package's Timeout.
	Timeout time.Duration

	out []byte // frames queued and not yet flushed
}

// New returns a peer on conn, playing the client if client is set. Most
// tests get one from Dial, Upgrade or Accept instead.
func New(t testing.TB, conn net.Conn, client bool) *Peer {
	return &Peer{T: t, Conn: conn, R: bufio.NewReader(conn), Client: client}
}

func (p *Peer) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return Timeout
}

// Queue appends f to the bytes the next Flush writes; consecutive frames
// thus leave in one write, as a fast peer would send them. A client's
// masking key is random and never zero, which would hide a missing unmask.
func (p *Peer) Queue(f Frame) {
	masked := p.Client != f.BadMask
	n := uint64(len(f.Payload))
	if f.Declared != 0 {
		n = f.Declared
	}
	var key [4]byte
	if masked {
		for key == [4]byte{} {
			_, _ = rand.Read(key[:])
		}
	}
	p.out = AppendFrame(p.out, f.B0, n, masked, key, f.Payload)
}

// QueueBytes appends b as it is to the bytes the next Flush writes: a
// request line, a frame cut short.
func (p *Peer) QueueBytes(b []byte) { p.out = append(p.out, b...) }

// Send queues f and flushes.
func (p *Peer) Send(f Frame) {
	p.T.Helper()
	p.Queue(f)
	p.Flush()
}

// Flush writes the queued bytes. A write that meets a connection the
// other side has closed or reset is only logged: the other side may fail
// the connection and close TCP before the peer has written everything (a
// chopped frame, data after a violation), and what matters is the close
// frame it sent, which is then read. Any other write error fails the test.
func (p *Peer) Flush() {
	p.T.Helper()
	err := p.TryFlush()
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		p.T.Logf("scripted peer: write: %v", err)
		return
	}
	require.NoError(p.T, err, "scripted peer: write")
}

// TryFlush writes the queued bytes and returns the write error, for the
// writes that may legitimately meet a connection already closed.
func (p *Peer) TryFlush() error {
	out := p.out
	p.out = p.out[:0]
	if len(out) == 0 {
		return nil
	}
	if err := p.Conn.SetWriteDeadline(time.Now().Add(p.timeout())); err != nil {
		return err
	}
	if !p.Chop {
		_, err := p.Conn.Write(out)
		return err
	}
	for i := range out {
		if _, err := p.Conn.Write(out[i : i+1]); err != nil {
			return err
		}
	}
	return nil
}

// ReadFrame reads one frame from the other side within the timeout,
// checks what must hold for every frame an endpoint sends (masking by
// role, no RSV bits but RSV1 on a compressed connection's first data
// frame, a known opcode, control frame rules) and returns it unmasked.
// A connection that ends between frames returns an error wrapping io.EOF.
func (p *Peer) ReadFrame() (Header, []byte, error) {
	if err := p.Conn.SetReadDeadline(time.Now().Add(p.timeout())); err != nil {
		return Header{}, nil, err
	}
	h, err := ReadHeader(p.R)
	if err != nil {
		return h, nil, fmt.Errorf("reading frame header: %w", err)
	}
	if err := p.check(h); err != nil {
		return h, nil, err
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(p.R, payload); err != nil {
		return h, nil, fmt.Errorf("reading %d-byte %s payload: %w", h.Length, h.Op, err)
	}
	if h.Masked {
		Mask(h.Key, payload)
	}
	return h, payload, nil
}

// check applies ReadFrame's rules to h.
func (p *Peer) check(h Header) error {
	rsv1 := h.RSV1 && !(p.Compressed && (h.Op == OpText || h.Op == OpBinary))
	switch {
	case h.Masked && p.Client:
		return fmt.Errorf("the server sent a masked %s frame", h.Op)
	case !h.Masked && !p.Client:
		return fmt.Errorf("the client sent an unmasked %s frame", h.Op)
	case rsv1 || h.RSV2 || h.RSV3:
		return fmt.Errorf("RSV bits set on a %s frame", h.Op)
	case !h.Op.known():
		return fmt.Errorf("reserved opcode %s", h.Op)
	case h.Op.IsControl() && (!h.Fin || h.Length > MaxControlPayload):
		return fmt.Errorf("bad control frame: fin %v, length %d", h.Fin, h.Length)
	case h.Length > MaxFrame:
		return fmt.Errorf("%d-byte frame", h.Length)
	}
	return nil
}

// ReadMessage reads a control frame, or a data message in as many
// fragments as the other side chose.
func (p *Peer) ReadMessage() (Opcode, []byte, error) {
	h, payload, err := p.ReadFrame()
	if err != nil {
		return 0, nil, err
	}
	if h.Op == OpContinuation {
		return h.Op, nil, errors.New("a continuation frame outside a message")
	}
	op := h.Op
	for !h.Fin {
		var more []byte
		h, more, err = p.ReadFrame()
		if err != nil {
			return op, nil, err
		}
		if h.Op != OpContinuation {
			return op, nil, fmt.Errorf("a %s frame inside a fragmented %s message", h.Op, op)
		}
		payload = append(payload, more...)
	}
	return op, payload, nil
}

// Expect flushes what is queued and reads the message or control frame
// op with payload; what names the step in failure messages.
func (p *Peer) Expect(op Opcode, payload []byte, what string) {
	p.T.Helper()
	p.Flush()
	got, data, err := p.ReadMessage()
	require.NoError(p.T, err, "%s: expected %s", what, op)
	require.Equal(p.T, op, got, "%s: opcode", what)
	if len(data) > 256 || len(payload) > 256 {
		require.Equal(p.T, len(payload), len(data), "%s: payload length", what)
		require.True(p.T, string(payload) == string(data), "%s: payload differs", what)
		return
	}
	require.Equal(p.T, string(payload), string(data), "%s: payload", what)
}

// ExpectClose flushes and reads a close frame, skipping nothing: any
// other frame first fails the test. It returns the close payload.
func (p *Peer) ExpectClose(what string) []byte {
	p.T.Helper()
	p.Flush()
	op, payload, err := p.ReadMessage()
	require.NoError(p.T, err, "%s: expected a close frame", what)
	require.Equal(p.T, OpClose, op, "%s: expected a close frame, got %s %s", what, op, Short(payload))
	return payload
}

// ExpectCloseCode reads a close frame and checks that it carries code and
// a valid reason, which it returns.
func (p *Peer) ExpectCloseCode(code uint16, what string) string {
	p.T.Helper()
	payload := p.ExpectClose(what)
	require.GreaterOrEqual(p.T, len(payload), 2, "%s: close frame without a code; want %d", what, code)
	got, reason, err := ParseClose(payload)
	require.NoError(p.T, err, "%s: the close frame is invalid", what)
	require.Equal(p.T, code, got, "%s: close code (reason %q)", what, reason)
	return reason
}

// ReadClose reads frames until a close frame that carries a code and
// returns its code and reason, with the opcodes of the frames before it.
func (p *Peer) ReadClose() (code uint16, reason string, before []Opcode) {
	p.T.Helper()
	for {
		h, payload, err := p.ReadFrame()
		require.NoError(p.T, err)
		if h.Op != OpClose {
			before = append(before, h.Op)
			continue
		}
		require.GreaterOrEqual(p.T, len(payload), 2, "close frame without a code")
		code, reason, err := ParseClose(payload)
		require.NoError(p.T, err, "the close frame is invalid")
		return code, reason, before
	}
}

// ReadEnd reads what comes after the last frame, within the timeout:
// io.EOF for a FIN, an error wrapping ECONNRESET for a reset,
// os.ErrDeadlineExceeded when the connection stays open. Any byte that
// comes is an error.
func (p *Peer) ReadEnd() error {
	if err := p.Conn.SetReadDeadline(time.Now().Add(p.timeout())); err != nil {
		return err
	}
	var b [64]byte
	n, err := p.R.Read(b[:])
	if n > 0 {
		return fmt.Errorf("%d more bytes after the close frame: % x", n, b[:n])
	}
	return err
}

// ExpectTCPClose checks that the other side closes the TCP connection
// within wait, sending nothing more, and then closes the peer's end too,
// as a real peer does on end of stream (the other side may linger until
// it sees that).
func (p *Peer) ExpectTCPClose(wait time.Duration, what string) {
	p.T.Helper()
	defer p.Conn.Close()
	saved := p.Timeout
	p.Timeout = wait
	err := p.ReadEnd()
	p.Timeout = saved
	if errors.Is(err, os.ErrDeadlineExceeded) {
		p.T.Fatalf("%s: the other side did not close TCP within %v", what, wait)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		p.T.Fatalf("%s: waiting for TCP close: %v", what, err)
	}
}

// Short abbreviates a payload for a failure message.
func Short(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q... (%d bytes)", b[:40], len(b))
	}
	return fmt.Sprintf("%q", b)
}
