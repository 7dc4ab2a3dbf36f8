//go:build linux

package websocket

import (
	"syscall"
	"unsafe"
)

// siocoutqnsd is Linux's SIOCOUTQNSD ioctl (linux/sockios.h): the bytes
// in a socket's send queue not sent yet, as opposed to sent and not yet
// acknowledged (SIOCOUTQ counts both).
const siocoutqnsd = 0x894B

// rawUnsentBytes returns the bytes the kernel holds unsent on raw.
func rawUnsentBytes(raw syscall.RawConn) int {
	n := 0
	raw.Control(func(fd uintptr) {
		var v int32
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, siocoutqnsd, uintptr(unsafe.Pointer(&v)))
		if errno == 0 {
			n = int(v)
		}
	})
	return n
}
