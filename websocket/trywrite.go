package websocket

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// errWouldBlock is returned by tryWriteMessage and tryWritePrepared when
// they wrote nothing because writing now would mean waiting: the socket
// buffer is full, another write holds the connection, or the connection is
// one they cannot write to without blocking (see tryWriteMessage). The
// connection is unchanged; write the message the ordinary way instead.
var errWouldBlock = errors.New("websocket: write would block")

// tryWriteMessage writes data as one message of type typ (one frame)
// without waiting for anything: it hands the socket as much of the frame
// as its buffer takes at once. A frame the socket takes whole needs no
// copy of data, which makes this the cheap way to send on a connection
// that is keeping up.
//
// It returns pending = 0 and a nil error when the whole frame went out.
// When the socket took only part, pending is the number of bytes left: the
// Conn keeps a copy of them and sends them before any other frame, written
// by the next write on the connection (of any kind, pings and close frames
// included) or by flushPending, which the caller should arrange to run. It
// returns errWouldBlock, having written nothing, when the socket took
// nothing, when another write holds the connection, and on connections it
// cannot write without blocking: client connections (which mask each
// frame), connections that are not plain TCP or Unix sockets (TLS among
// them), and messages that permessage-deflate would compress. Other errors
// are those of WriteMessage, ErrInvalidUTF8 among them.
func (c *Conn) tryWriteMessage(typ MessageType, data []byte) (pending int, err error) {
	op, ok := typ.opcode()
	if !ok {
		return 0, fmt.Errorf("websocket: invalid message type %d", typ)
	}
	if typ == TextMessage && !utf8.Valid(data) {
		return 0, ErrInvalidUTF8
	}
	if !c.canTryWrite(len(data)) {
		return 0, errWouldBlock
	}
	var hb [maxHeaderSize]byte
	hdr := appendHeader(hb[:0], header{fin: true, op: op, length: int64(len(data))})
	return c.tryWrite(hdr, data, false)
}

// tryWritePrepared is tryWriteMessage for a prepared message. The bytes
// left when the socket takes part of the frame are not copied: the Conn
// keeps a reference into pm, which is immutable.
func (c *Conn) tryWritePrepared(pm *PreparedMessage) (pending int, err error) {
	if !c.canTryWrite(len(pm.data)) {
		return 0, errWouldBlock
	}
	return c.tryWrite(nil, pm.frame, true)
}

// flushPending writes the rest of a frame that tryWriteMessage or
// tryWritePrepared left partly written, waiting for the socket as
// WriteMessage does; ctx governs the wait. It returns at once when nothing
// is pending. If ctx ends first, what is still pending stays pending and
// the connection stays usable.
func (c *Conn) flushPending(ctx context.Context) error {
	if err := c.acquire(ctx, lockFrame); err != nil {
		return c.writeAcquireError(err)
	}
	defer c.locks.unlock(lockFrame)
	if len(c.wr.pending) == 0 {
		return c.wr.err
	}
	if c.armWrite(ctx) {
		defer c.writeWatch.disarm()
	}
	return ctxError(ctx, c.writableLocked())
}

// canTryWrite reports whether a message of n bytes can be written with a
// non-blocking write: an uncompressed frame from a server on a socket
// whose file descriptor can be written directly.
func (c *Conn) canTryWrite(n int) bool {
	if !c.server || !c.rawWritable() {
		return false
	}
	return c.deflate == nil || !c.deflate.wants(n)
}

// tryWrite writes the frame hdr+payload with non-blocking writes. shared
// says payload may be kept as it is (a prepared frame) rather than copied
// when part of it is left over.
func (c *Conn) tryWrite(hdr, payload []byte, shared bool) (int, error) {
	// The message lock first, as every data write takes it: a message
	// being streamed with NextWriter must not be cut by this one.
	if !c.locks.tryLock(lockMessage) {
		return 0, errWouldBlock
	}
	defer c.locks.unlock(lockMessage)
	if !c.locks.tryLock(lockFrame) {
		return 0, errWouldBlock
	}
	defer c.locks.unlock(lockFrame)
	if c.flags.has(flagCloseSent) {
		return 0, c.closedWriteError()
	}
	w := &c.wr
	if w.err != nil {
		return 0, w.err
	}
	if len(w.pending) > 0 {
		// An earlier frame is still going out; it must end first.
		n, err := c.writeNowait(w.pending)
		w.pending = w.pending[n:]
		if err != nil {
			return 0, c.tryFailed(err)
		}
		if len(w.pending) > 0 {
			return 0, errWouldBlock
		}
		w.pending = nil
	}

	total := len(hdr) + len(payload)
	var n int
	var err error
	switch {
	case len(hdr) == 0:
		n, err = c.writeNowait(payload)
	case total <= writeBufferSize:
		// A small frame is copied whole into the pooled buffer for one
		// write(2): cheaper than gathering.
		pooled := writeBufPool.Get().(*[writeBufferSize]byte)
		n, err = c.writeNowait(append(append(pooled[:0], hdr...), payload...))
		writeBufPool.Put(pooled)
	default:
		n, err = c.writeNowaitv(hdr, payload)
	}
	switch {
	case n == total:
		return 0, nil
	case err != nil:
		if n > 0 {
			return 0, c.writeFailed(true, err)
		}
		return 0, c.tryFailed(err)
	case n == 0:
		return 0, errWouldBlock
	}
	// The socket took part of the frame: keep the rest.
	switch {
	case shared:
		w.pending = payload[n:]
	case n < len(hdr):
		w.pending = append(append(make([]byte, 0, total-n), hdr[n:]...), payload...)
	default:
		w.pending = append([]byte(nil), payload[n-len(hdr):]...)
	}
	return len(w.pending), nil
}

// tryFailed handles a failed non-blocking write that left the stream at a
// frame boundary, or inside a pending tail that is still recorded: a
// deadline that has passed leaves the connection usable, anything else
// breaks it. The caller holds lockFrame.
func (c *Conn) tryFailed(err error) error {
	err = c.writeFailed(false, err)
	if c.wr.err != nil {
		c.wr.pending = nil
	}
	return err
}

// writableLocked returns the error that broke the stream, if one did, and
// otherwise writes the rest of a frame a tryWrite left partly written, so
// that the caller's frame starts at a frame boundary. Every frame writer
// calls it under lockFrame before writing. A deadline that passes midway
// leaves the unwritten part pending and the connection usable.
func (c *Conn) writableLocked() error {
	w := &c.wr
	if w.err != nil {
		return w.err
	}
	if len(w.pending) == 0 {
		return nil
	}
	n, err := c.nc.Write(w.pending)
	w.pending = w.pending[n:]
	if err != nil {
		return c.tryFailed(err)
	}
	w.pending = nil
	return nil
}

// writableWithin is writableLocked for a writer bounded by a timeout
// rather than a context (a close frame): the pending part of a frame is
// given at most timeout.
func (c *Conn) writableWithin(timeout time.Duration) error {
	w := &c.wr
	if w.err != nil || len(w.pending) == 0 {
		return w.err
	}
	n, err := c.writeBounded(w.pending, timeout)
	w.pending = w.pending[n:]
	if err != nil {
		return c.tryFailed(err)
	}
	w.pending = nil
	return nil
}
