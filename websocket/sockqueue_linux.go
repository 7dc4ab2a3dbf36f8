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
// than its buffer holds and dropped the rest. A closing connection uses
// it (tcpclose.go).
func rawUnsentBytes(raw syscall.RawConn) int { return rawQueueBytes(raw, syscall.TIOCOUTQ) }

// rawUnreadBytes returns the bytes in raw's receive queue that no read has
// taken yet (SIOCINQ). It does not read, so any goroutine may ask while
// another reads or waits to: a Session's dispatcher does
// (session_nudge.go).
func rawUnreadBytes(raw syscall.RawConn) int { return rawQueueBytes(raw, syscall.TIOCINQ) }

// rawQueueBytes is the ioctl req on raw's socket, 0 if it fails.
func rawQueueBytes(raw syscall.RawConn, req uintptr) int {
	n := 0
	raw.Control(func(fd uintptr) {
		var v int32
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(unsafe.Pointer(&v)))
		if errno == 0 {
			n = int(v)
		}
	})
	return n
}
