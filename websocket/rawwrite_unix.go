//go:build unix

package websocket

import (
	"os"
	"sync"
	"syscall"
)

// nowaitWrite is the state of one writeNowait call. Its write method is
// bound once and the value pooled, so that handing the callback to the
// runtime allocates nothing.
type nowaitWrite struct {
	b     []byte
	n     int
	err   error
	write func(fd uintptr) bool // w.writeFD, bound once
}

var nowaitWritePool = sync.Pool{New: func() any {
	w := new(nowaitWrite)
	w.write = w.writeFD
	return w
}}

// writeFD is the raw-write callback: one non-blocking write (retried on
// EINTR). It never asks the runtime to wait: a full socket buffer ends
// the attempt with what was written.
func (w *nowaitWrite) writeFD(fd uintptr) bool {
	for {
		n, err := syscall.Write(int(fd), w.b)
		switch err {
		case syscall.EINTR:
			continue
		case nil:
			w.n = n
		case syscall.EAGAIN:
		default:
			w.err = err
		}
		return true
	}
}

// writeNowait writes as much of b as the socket takes without blocking
// and returns how much that was; c.raw must be set. An error is final
// (the connection is closed or broken, or the write deadline has passed).
func (c *Conn) writeNowait(b []byte) (int, error) {
	w := nowaitWritePool.Get().(*nowaitWrite)
	w.b, w.n, w.err = b, 0, nil
	err := c.raw.Write(w.write)
	n := w.n
	if err == nil && w.err != nil {
		err = os.NewSyscallError("write", w.err)
	}
	w.b, w.err = nil, nil
	nowaitWritePool.Put(w)
	return n, err
}
