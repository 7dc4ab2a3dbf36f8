//go:build !linux

package websocket

import "syscall"

// rawUnsentBytes cannot tell here: only a write that gave up on a
// deadline shows a stalled peer.
func rawUnsentBytes(syscall.RawConn) int { return 0 }
