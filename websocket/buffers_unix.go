//go:build unix

package websocket

import (
	"os"
	"syscall"
)

// readIdle waits until the socket is readable and reads what is there into
// a pooled buffer. The wait goes through the runtime's poller with no
// buffer held, and the buffer is taken only when the read system call has
// bytes to give, so an idle connection costs no buffer and an active one no
// extra system call.
func (c *Conn) readIdle() (*[readBufferSize]byte, int, error) {
	var (
		buf  *[readBufferSize]byte
		got  int
		rerr error
	)
	err := c.raw.Read(func(fd uintptr) bool {
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
			buf, got, rerr = b, max(n, 0), err
			return true
		}
	})
	if err == nil && rerr != nil {
		err = os.NewSyscallError("read", rerr)
	}
	if err != nil {
		if buf != nil {
			readBufPool.Put(buf)
		}
		return nil, 0, err
	}
	return buf, got, nil
}
