//go:build unix

package websocket

import (
	"os"
	"syscall"
)

// rawReadSupported says a connection may wait for bytes through its raw
// descriptor with no buffer (readIdle).
const rawReadSupported = true

// idleRead is the state of one readIdle call. It lives in the Conn, and
// its read method is bound once, so that waiting for bytes allocates
// nothing; the holder of lockRead owns it.
type idleRead struct {
	buf  *[readBufferSize]byte
	got  int
	err  error
	read func(fd uintptr) bool // r.readFD, bound once
}

// readFD is the raw-read callback: it reads into a pooled buffer, or asks
// to wait for readability when there is nothing to read.
func (r *idleRead) readFD(fd uintptr) bool {
	b := readBufPool.Get().(*[readBufferSize]byte)
	for {
		n, err := syscall.Read(int(fd), b[:])
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			readBufPool.Put(b)
			return false // wait for readability, then try again
		}
		r.buf, r.got, r.err = b, max(n, 0), err
		return true
	}
}

// readIdle waits until the socket is readable and reads what is there into
// a pooled buffer. The wait goes through the runtime's poller with no
// buffer held, and the buffer is taken only when the read system call has
// bytes to give, so an idle connection costs no buffer and an active one no
// extra system call.
func (c *Conn) readIdle() (*[readBufferSize]byte, int, error) {
	r := &c.rd.idle
	if r.read == nil {
		r.read = r.readFD
	}
	r.buf, r.got, r.err = nil, 0, nil
	err := c.raw.Read(r.read)
	buf, got := r.buf, r.got
	if err == nil && r.err != nil {
		err = os.NewSyscallError("read", r.err)
	}
	r.buf, r.err = nil, nil
	if err != nil {
		if buf != nil {
			readBufPool.Put(buf)
		}
		return nil, 0, err
	}
	return buf, got, nil
}
