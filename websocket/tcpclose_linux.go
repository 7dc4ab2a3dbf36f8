//go:build linux

package websocket

import (
	"syscall"
	"unsafe"
)

// rawUnsentBytes returns the bytes in raw's send queue that the peer has
// not acknowledged (SIOCOUTQ): bytes not sent yet because its window is
// closed, and bytes sent that it dropped or never got. SIOCOUTQNSD,
// which counts only the former, misses a peer whose kernel accepted more
// than its buffer holds and dropped the rest.
func rawUnsentBytes(raw syscall.RawConn) int {
	n := 0
	raw.Control(func(fd uintptr) {
		var v int32
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&v)))
		if errno == 0 {
			n = int(v)
		}
	})
	return n
}
