//go:build !unix

package websocket

import "syscall"

// drainReceived does nothing where sockets offer no raw access: c.raw is
// nil there, so it is never called.
func drainReceived(syscall.RawConn) {}
