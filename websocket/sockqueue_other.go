//go:build !linux

package websocket

import "syscall"

// rawUnsentBytes cannot tell here: only a write that gave up on a
// deadline shows a stalled peer.
func rawUnsentBytes(syscall.RawConn) int { return 0 }

// rawUnreadBytes cannot tell here, so a Session's dispatcher never nudges
// its reader (session_nudge.go).
func rawUnreadBytes(syscall.RawConn) int { return 0 }
