package websocket

import (
	"context"
	"fmt"
	"unicode/utf8"
)

// PreparedMessage is a message encoded once and written to any number of
// connections, as a broadcast does: servers send the same unmasked frame
// bytes to every client, so the frame is built once instead of once per
// receiver. (A client must mask each frame with a fresh key, so a client
// connection encodes it again.) It is safe for concurrent use.
type PreparedMessage struct {
	typ   MessageType
	op    opcode
	data  []byte
	frame []byte // the unmasked frame a server sends

	deflated preparedDeflate // compressed once for no-context-takeover servers
}

// NewPreparedMessage encodes data as a message of type typ. The message
// holds its own copy of data. Text must be valid UTF-8.
func NewPreparedMessage(typ MessageType, data []byte) (*PreparedMessage, error) {
	op, ok := typ.opcode()
	if !ok {
		return nil, fmt.Errorf("websocket: invalid message type %d", typ)
	}
	if typ == TextMessage && !utf8.Valid(data) {
		return nil, ErrInvalidUTF8
	}
	h := header{fin: true, op: op, length: int64(len(data))}
	frame := appendHeader(make([]byte, 0, maxHeaderSize+len(data)), h)
	hlen := len(frame)
	frame = append(frame, data...)
	return &PreparedMessage{typ: typ, op: op, data: frame[hlen:], frame: frame}, nil
}

// Size returns the length of the encoded frame, what a server writes.
func (pm *PreparedMessage) Size() int { return len(pm.frame) }

// Type returns the message type.
func (pm *PreparedMessage) Type() MessageType { return pm.typ }

// Data returns the payload. It must not be modified.
func (pm *PreparedMessage) Data() []byte { return pm.data }

// WritePrepared sends a prepared message; see WriteMessage for how ctx and
// errors behave.
func (c *Conn) WritePrepared(ctx context.Context, pm *PreparedMessage) error {
	if err := c.acquire(ctx, lockMessage); err != nil {
		return c.writeAcquireError(err)
	}
	defer c.locks.unlock(lockMessage)
	frame := pm.frame
	if d := c.deflate; d != nil && d.wants(len(pm.data)) {
		shared, err := pm.sharedFrame(d)
		if err != nil {
			return err
		}
		if shared == nil || !c.server {
			payload, err := d.compress(pm.data)
			if err != nil {
				return err
			}
			return c.writeFrame(ctx, true, pm.op, true, payload)
		}
		frame = shared
	}
	if !c.server {
		return c.writeFrame(ctx, true, pm.op, false, pm.data)
	}
	if err := c.acquire(ctx, lockFrame); err != nil {
		return c.writeAcquireError(err)
	}
	defer c.locks.unlock(lockFrame)
	if c.flags.has(flagCloseSent) {
		return c.closedWriteError()
	}
	if c.armWrite(ctx) {
		defer c.writeWatch.disarm()
	}
	return ctxError(ctx, c.writeRawLocked(frame))
}

// writePreparedBatch sends several prepared messages in order. A server
// without compression hands all their frames to the operating system in
// one writev call, which is how a send queue drains cheaply.
func (c *Conn) writePreparedBatch(ctx context.Context, pms []*PreparedMessage) error {
	if !c.server || len(pms) == 1 || c.deflate != nil {
		for _, pm := range pms {
			if err := c.WritePrepared(ctx, pm); err != nil {
				return err
			}
		}
		return nil
	}
	if err := c.acquire(ctx, lockMessage); err != nil {
		return c.writeAcquireError(err)
	}
	defer c.locks.unlock(lockMessage)
	if err := c.acquire(ctx, lockFrame); err != nil {
		return c.writeAcquireError(err)
	}
	defer c.locks.unlock(lockFrame)
	if c.flags.has(flagCloseSent) {
		return c.closedWriteError()
	}
	if c.armWrite(ctx) {
		defer c.writeWatch.disarm()
	}
	w := &c.wr
	if err := c.writableLocked(); err != nil {
		return err
	}
	w.batch = w.batch[:0]
	for _, pm := range pms {
		w.batch = append(w.batch, pm.frame)
	}
	w.bufs = w.batch // WriteTo consumes its receiver; keep batch whole
	n, err := w.bufs.WriteTo(c.nc)
	clear(w.batch)
	if err != nil {
		return ctxError(ctx, c.writeFailed(n > 0, err))
	}
	return nil
}

// writeRawLocked writes encoded frames; the caller holds lockFrame.
func (c *Conn) writeRawLocked(b []byte) error {
	if err := c.writableLocked(); err != nil {
		return err
	}
	n, err := c.nc.Write(b)
	if err != nil {
		return c.writeFailed(n > 0, err)
	}
	return nil
}
