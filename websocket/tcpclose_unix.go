//go:build unix

package websocket

import "syscall"

// drainReceived reads and drops what the socket has received and nobody
// read, without waiting for more (sockets are non-blocking; Control does
// not queue behind a read blocked in the runtime's poller, and bytes
// taken from under such a read no longer matter: the connection ends).
func drainReceived(raw syscall.RawConn) {
	raw.Control(func(fd uintptr) {
		b := readBufPool.Get().(*[readBufferSize]byte)
		defer readBufPool.Put(b)
		for drained := 0; drained < maxDrainAtClose; {
			n, err := syscall.Read(int(fd), b[:])
			if err == syscall.EINTR {
				continue
			}
			if n <= 0 || err != nil {
				return
			}
			drained += n
		}
	})
}
