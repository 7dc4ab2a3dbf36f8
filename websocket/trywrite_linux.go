//go:build linux

package websocket

import (
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// nowaitvWrite is the state of one writeNowaitv call, pooled with its
// callback bound once so that a write allocates nothing.
type nowaitvWrite struct {
	hdr   [maxHeaderSize]byte // a copy, so that the caller's may stay on its stack
	iov   [2]syscall.Iovec
	n     int
	err   error
	write func(fd uintptr) bool // w.writeFD, bound once
}

var nowaitvPool = sync.Pool{New: func() any {
	w := new(nowaitvWrite)
	w.write = w.writeFD
	return w
}}

// writeFD is the raw-write callback: one non-blocking writev(2) of both
// buffers (retried on EINTR). It never asks the runtime to wait.
func (w *nowaitvWrite) writeFD(fd uintptr) bool {
	for {
		n, _, errno := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(len(w.iov)))
		switch errno {
		case syscall.EINTR:
			continue
		case 0:
			w.n = int(n)
		case syscall.EAGAIN:
		default:
			w.err = errno
		}
		return true
	}
}

// writeNowaitv is writeNowait for a frame in two pieces, its header (at
// most maxHeaderSize bytes) and payload, handed to the socket in one
// system call, so that a large frame is neither copied nor split into two
// segments. Both must be non-empty.
func (c *Conn) writeNowaitv(hdr, payload []byte) (int, error) {
	w := nowaitvPool.Get().(*nowaitvWrite)
	h := w.hdr[:copy(w.hdr[:], hdr)]
	w.iov[0].Base, w.iov[1].Base = &h[0], &payload[0]
	w.iov[0].SetLen(len(h))
	w.iov[1].SetLen(len(payload))
	w.n, w.err = 0, nil
	err := c.raw.Write(w.write)
	n := w.n
	if err == nil && w.err != nil {
		err = os.NewSyscallError("writev", w.err)
	}
	w.iov = [2]syscall.Iovec{}
	w.err = nil
	nowaitvPool.Put(w)
	return n, err
}
