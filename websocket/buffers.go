package websocket

import (
	"io"
	"sync"
)

// Buffers are pooled so that an idle connection holds none: a read buffer
// is taken when bytes arrive (see readIdle) and given back once a message
// has been read and nothing is left in it; a write buffer is taken for one
// frame. At many thousand mostly idle connections, that is most of the
// memory a connection would otherwise keep.
var (
	readBufPool  = sync.Pool{New: func() any { return new([readBufferSize]byte) }}
	writeBufPool = sync.Pool{New: func() any { return new([writeBufferSize]byte) }}
	// clientWriteBufPool holds the buffers a client masks frames larger
	// than writeBufferSize into.
	clientWriteBufPool = sync.Pool{New: func() any { return new([clientWriteBufferSize]byte) }}
)

// clientWriteBufferSize is the most of a client's frame masked and
// written at once.
const clientWriteBufferSize = 64 << 10

// takeReadBuf gives the reader an empty pooled buffer.
func (r *readState) takeReadBuf() {
	r.pooled = readBufPool.Get().(*[readBufferSize]byte)
	r.buf = r.pooled[:]
	r.pos, r.end = 0, 0
}

// releaseReadBuf gives the read buffer back when it holds no unread
// bytes; the caller holds readSem.
func (r *readState) releaseReadBuf() {
	if r.buf == nil || r.pos != r.end {
		return
	}
	if r.pooled != nil {
		readBufPool.Put(r.pooled)
	}
	r.buf, r.pooled = nil, nil
	r.pos, r.end = 0, 0
}

// fillFromIdle is fill for a reader that holds no buffer: it waits for the
// socket to become readable without one where the platform allows (see
// readIdle), and takes a pooled buffer for the bytes.
func (c *Conn) fillFromIdle(n int) error {
	r := &c.rd
	if c.raw != nil {
		buf, got, err := c.readIdle()
		if err != nil {
			return err
		}
		if got == 0 {
			readBufPool.Put(buf)
			return io.EOF
		}
		r.pooled, r.buf = buf, buf[:]
		r.pos, r.end = 0, got
		return c.fill(n)
	}
	r.takeReadBuf()
	return c.fill(n)
}
