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
// bytes; the caller holds lockRead.
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

// shrinkForWait leaves the reader holding as little as it can while the
// connection waits in a poller; the caller holds lockRead and has found
// nothing readable buffered. An empty buffer goes back to the pool; the
// few bytes of a frame header that stalled midway move to a small
// buffer of their own, so that a peer trickling frames costs neither a
// goroutine nor a pooled buffer while it stalls.
func (r *readState) shrinkForWait() {
	if r.pos == r.end {
		r.releaseReadBuf()
		return
	}
	if r.pooled == nil {
		return
	}
	small := make([]byte, max(stalledBufferSize, r.end-r.pos))
	r.end = copy(small, r.buf[r.pos:r.end])
	r.pos = 0
	readBufPool.Put(r.pooled)
	r.buf, r.pooled = small, nil
}

// stalledBufferSize is the buffer a stalled partial frame header is kept
// in: more than the largest header (14 bytes), and little enough to keep
// per connection.
const stalledBufferSize = 64
