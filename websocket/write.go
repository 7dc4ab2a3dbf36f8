package websocket

import (
	"context"
	"errors"
	"fmt"
	"net"
	"unicode/utf8"
)

// writeState is the writing side of a Conn, owned by the holder of
// lockFrame (keys too: only frame writers draw them).
type writeState struct {
	buf    []byte      // frame assembly: a pooled buffer while a frame is written
	bufs   net.Buffers // what writev is handed (WriteTo consumes it)
	batch  net.Buffers // its backing: a frame's header and payload, or writePreparedBatch's frames
	err    error       // sticky: the stream is broken
	keys   *[64]byte
	keyPos int
	// pending is the rest of a frame tryWriteMessage handed the socket
	// only in part; it goes out before any other frame (trywrite.go).
	pending []byte
}

// ErrInvalidUTF8 is returned when a text message to be written is not
// valid UTF-8; nothing is sent.
var ErrInvalidUTF8 = errors.New("websocket: text message is not valid UTF-8")

// WriteMessage sends data as one message of type typ (one frame). Text
// must be valid UTF-8. It returns when the frame has been handed to the
// operating system. If ctx ends before any of the frame was written, the
// connection stays usable; if it ends midway, the connection is closed,
// since the peer could not find the next frame.
func (c *Conn) WriteMessage(ctx context.Context, typ MessageType, data []byte) error {
	op, ok := typ.opcode()
	if !ok {
		return fmt.Errorf("websocket: invalid message type %d", typ)
	}
	if typ == TextMessage && !utf8.Valid(data) {
		return ErrInvalidUTF8
	}
	if err := c.acquire(ctx, lockMessage); err != nil {
		return c.writeAcquireError(err)
	}
	defer c.locks.unlock(lockMessage)
	if c.deflate != nil && c.deflate.wants(len(data)) {
		if c.isClosed() {
			return c.closedWriteError()
		}
		payload, err := c.deflate.compress(data)
		if err != nil {
			return err
		}
		return c.writeFrame(ctx, true, op, true, payload)
	}
	return c.writeFrame(ctx, true, op, false, data)
}

// Ping sends a ping with payload (at most 125 bytes). The peer's pong is
// reported to ConnOptions.OnPong by the reading goroutine.
func (c *Conn) Ping(ctx context.Context, payload []byte) error {
	if len(payload) > maxControlPayload {
		return fmt.Errorf("websocket: ping payload of %d bytes exceeds 125", len(payload))
	}
	if c.flags.has(flagCloseSent) {
		return ErrClosed
	}
	return c.writeControl(ctx, opPing, payload)
}

// writeControl writes a control frame, possibly between the fragments of
// a message being written.
func (c *Conn) writeControl(ctx context.Context, op opcode, payload []byte) error {
	return c.writeFrame(ctx, true, op, false, payload)
}

// writeAcquireError explains why a write could not start.
func (c *Conn) writeAcquireError(err error) error {
	if errors.Is(err, ErrClosed) {
		return c.closedWriteError()
	}
	return err
}

func (c *Conn) closedWriteError() error {
	if ce := c.peerClose.Load(); ce != nil {
		return ce
	}
	return ErrClosed
}

// writeFrame writes one frame under lockFrame, with ctx governing the wait
// for the lock and the write.
func (c *Conn) writeFrame(ctx context.Context, fin bool, op opcode, compressed bool, payload []byte) error {
	if err := c.acquire(ctx, lockFrame); err != nil {
		return c.writeAcquireError(err)
	}
	defer c.locks.unlock(lockFrame)
	if op.isData() || op == opContinuation {
		// Checked under the lock: a close frame written before this one
		// ends the data stream (RFC 6455 section 5.5.1).
		if c.flags.has(flagCloseSent) {
			return c.closedWriteError()
		}
	}
	if c.armWrite(ctx) {
		defer c.writeWatch.disarm()
	}
	return ctxError(ctx, c.writeFrameLocked(fin, op, compressed, payload))
}

// writeFrameLocked encodes and writes a frame; the caller holds lockFrame.
// A server writes a small frame with one copy into the write buffer and a
// large one with writev, never copying the payload; a client must mask,
// so it copies the payload through the buffer in chunks.
func (c *Conn) writeFrameLocked(fin bool, op opcode, compressed bool, payload []byte) error {
	w := &c.wr
	if err := c.writableLocked(); err != nil {
		return err
	}
	// The buffer is pooled and held only for this frame, so an idle
	// connection keeps none.
	pooled := writeBufPool.Get().(*[writeBufferSize]byte)
	defer writeBufPool.Put(pooled)
	w.buf = pooled[:]
	defer func() { w.buf = nil }()
	h := header{fin: fin, rsv1: compressed, op: op, length: int64(len(payload))}
	if !c.server {
		h.masked = true
		h.key = w.newMaskKey()
	}
	hdr := appendHeader(w.buf[:0], h)
	var written int64
	var err error
	switch {
	case len(hdr)+len(payload) <= len(w.buf):
		b := append(hdr, payload...)
		if h.masked {
			maskBytes(h.key, b[len(hdr):])
		}
		var n int
		n, err = c.nc.Write(b)
		written = int64(n)
	case c.server:
		// batch's array is made by the first such frame and kept: a
		// connection that never sends one holds none.
		w.batch = append(w.batch[:0], hdr, payload)
		w.bufs = w.batch
		written, err = w.bufs.WriteTo(c.nc)
		clear(w.batch)
	default:
		// A client masks a copy. Through a larger pooled buffer, so that a
		// frame of up to 64 KiB leaves in one write (one segment on
		// loopback) rather than as 4 KiB pieces and a short tail, which
		// costs the server a read per piece.
		big := clientWriteBufPool.Get().(*[clientWriteBufferSize]byte)
		defer clientWriteBufPool.Put(big)
		key := h.key
		b := append(big[:0], hdr...)
		for len(payload) > 0 && err == nil {
			n := min(len(payload), len(big)-len(b))
			chunk := append(b, payload[:n]...)
			key = maskBytes(key, chunk[len(b):])
			payload = payload[n:]
			var m int
			m, err = c.nc.Write(chunk)
			written += int64(m)
			b = big[:0]
		}
	}
	if err != nil {
		return c.writeFailed(written > 0, err)
	}
	return nil
}

// writeFailed handles a failed write; the caller holds lockFrame. A
// deadline that passed before any byte went out leaves the stream intact;
// anything else breaks it, so the connection is closed: reset, when the
// write gave up on a deadline (a peer that stopped reading, tcpclose.go).
func (c *Conn) writeFailed(partial bool, err error) error {
	w := &c.wr
	if !partial && isTimeout(err) && !c.isClosed() {
		return err
	}
	if c.isClosed() {
		w.err = c.closedWriteError()
	} else {
		w.err = fmt.Errorf("%w: write failed: %w", ErrClosed, err)
	}
	c.closeTCP(endingAfter(err))
	return w.err
}

// NextWriter starts a message of type typ and returns a writer for its
// payload; Close on the writer ends the message. Small writes are
// gathered into fragments of about 4 KiB, and a write at least that large
// into an empty buffer goes out as a fragment of its own, so a message of
// unknown length can be streamed without being held whole. Other writers
// wait until this message ends, but pings, pongs and a close frame may go
// out between its fragments. ctx governs
// every write of the message. Text is not checked for UTF-8 here: a peer
// fails the connection on invalid text. Messages written this way are not
// compressed, even on a connection that negotiated permessage-deflate.
func (c *Conn) NextWriter(ctx context.Context, typ MessageType) (*MessageWriter, error) {
	op, ok := typ.opcode()
	if !ok {
		return nil, fmt.Errorf("websocket: invalid message type %d", typ)
	}
	if err := c.acquire(ctx, lockMessage); err != nil {
		return nil, c.writeAcquireError(err)
	}
	return &MessageWriter{c: c, ctx: ctx, op: op}, nil
}

// MessageWriter writes one message in fragments; see Conn.NextWriter.
type MessageWriter struct {
	c      *Conn
	ctx    context.Context
	op     opcode // of the next frame: the message type, then continuation
	buf    []byte
	err    error
	closed bool
}

// messageFragmentSize is how much a MessageWriter buffers before it sends
// a fragment.
const messageFragmentSize = writeBufferSize - maxHeaderSize

// Write buffers p, sending full fragments as the buffer fills.
func (m *MessageWriter) Write(p []byte) (int, error) {
	if m.closed {
		return 0, errors.New("websocket: write to a closed message writer")
	}
	if m.err != nil {
		return 0, m.err
	}
	n := len(p)
	if len(m.buf) == 0 && len(p) >= messageFragmentSize {
		// Large writes go out as they are, without the copy.
		if err := m.flush(p, false); err != nil {
			return 0, err
		}
		return n, nil
	}
	for len(p) > 0 {
		if m.buf == nil {
			m.buf = make([]byte, 0, messageFragmentSize)
		}
		k := min(len(p), cap(m.buf)-len(m.buf))
		m.buf = append(m.buf, p[:k]...)
		p = p[k:]
		if len(m.buf) == cap(m.buf) {
			if err := m.flush(m.buf, false); err != nil {
				return n - len(p) - k, err
			}
			m.buf = m.buf[:0]
		}
	}
	return n, nil
}

// flush sends payload as the next fragment.
func (m *MessageWriter) flush(payload []byte, fin bool) error {
	if err := m.c.writeFrame(m.ctx, fin, m.op, false, payload); err != nil {
		m.err = err
		return err
	}
	m.op = opContinuation
	return nil
}

// Close sends what is buffered as the final fragment and ends the message.
func (m *MessageWriter) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	defer m.c.locks.unlock(lockMessage)
	if m.err != nil {
		return m.err
	}
	return m.flush(m.buf, true)
}
