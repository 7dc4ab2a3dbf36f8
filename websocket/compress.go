package websocket

import (
	"fmt"
	"sync"
)

// connDeflate is the permessage-deflate state of a connection that
// negotiated it: an inflater for what the peer sends, a deflater for what
// we send, and the agreed parameters.
type connDeflate struct {
	params        deflateParams
	level         int
	threshold     int
	writeBits     int
	writeTakeover bool
	in            *inflater
	out           *deflater
	buf           []byte // compressed payload of the message being written (under lockMessage)
}

func newConnDeflate(p deflateParams, server bool, opts *CompressionOptions) *connDeflate {
	if opts == nil {
		opts = &CompressionOptions{}
	}
	writeBits, writeTakeover, readBits, readTakeover := p.directions(server)
	return &connDeflate{
		params:        p,
		level:         opts.level(),
		threshold:     opts.threshold(),
		writeBits:     writeBits,
		writeTakeover: writeTakeover,
		in:            newInflater(readBits, readTakeover),
		out:           newDeflater(opts.level(), writeBits, writeTakeover),
	}
}

// wants reports whether a message of n bytes is worth compressing.
func (d *connDeflate) wants(n int) bool { return n >= d.threshold }

// compress returns the compressed payload of a message; the bytes are
// valid until the next call. The caller holds lockMessage, which keeps the
// compressor's context in the order the messages go out.
func (d *connDeflate) compress(p []byte) ([]byte, error) {
	out, err := d.out.compress(d.buf[:0], p)
	if err != nil {
		return nil, fmt.Errorf("websocket: compressing a message: %w", err)
	}
	if cap(out) <= 64<<10 {
		d.buf = out[:0] // keep a modest buffer; a huge one goes with the message
	} else {
		d.buf = nil
	}
	return out, nil
}

// releaseCompression returns the compression state to the pools when
// the connection has closed, for each direction that is not in use right
// now (a busy one is left to the garbage collector).
func (c *Conn) releaseCompression() {
	d := c.deflate
	if d == nil {
		return
	}
	if c.locks.tryLock(lockMessage) {
		d.out.release()
		c.locks.unlock(lockMessage)
	}
	if c.locks.tryLock(lockRead) {
		d.in.release()
		c.locks.unlock(lockRead)
	}
}

// Compressed returns whether the connection negotiated permessage-deflate.
func (c *Conn) Compressed() bool { return c.deflate != nil }

// releaseIdleCompressor gives the compressor of an idle connection back to
// the pool and reports whether it did. With context takeover a compressor
// holds most of a megabyte for as long as it keeps context; dropping the
// context is always safe (the next message just compresses without the
// earlier ones, and the peer's decompressor does not mind), so a server
// with many quiet connections calls this for those that have not sent for
// a while. It does nothing while a message is being written, or without
// compression.
func (c *Conn) releaseIdleCompressor() bool {
	d := c.deflate
	if d == nil || !d.writeTakeover {
		return false
	}
	if !c.locks.tryLock(lockMessage) {
		return false
	}
	held := d.out.fw != nil
	d.out.release()
	d.buf = nil
	c.locks.unlock(lockMessage)
	return held
}

// deflateKey identifies a no-context compressed form of a prepared
// message: connections with the same level and window share it.
type deflateKey struct{ level, bits int }

// preparedDeflate caches a prepared message's compressed frame for
// servers that compress without context takeover.
type preparedDeflate struct {
	mu    sync.Mutex
	key   deflateKey
	frame []byte
	err   error
}

// sharedFrame returns pm's frame compressed for d without context, built
// once for every connection with the same parameters (a broadcast
// compresses once), or nil when d keeps context or has other parameters
// than the cached form.
func (pm *PreparedMessage) sharedFrame(d *connDeflate) ([]byte, error) {
	if d.writeTakeover {
		return nil, nil
	}
	key := deflateKey{d.level, d.writeBits}
	pd := &pm.deflated
	pd.mu.Lock()
	defer pd.mu.Unlock()
	if pd.frame == nil && pd.err == nil {
		pd.key = key
		payload, err := compressOnce(d.level, d.writeBits, pm.data)
		if err != nil {
			pd.err = fmt.Errorf("websocket: compressing a message: %w", err)
			return nil, pd.err
		}
		h := header{fin: true, rsv1: true, op: pm.op, length: int64(len(payload))}
		pd.frame = append(appendHeader(make([]byte, 0, maxHeaderSize+len(payload)), h), payload...)
	}
	if pd.key != key {
		return nil, nil
	}
	return pd.frame, pd.err
}
