//go:build unix

package tornago

import (
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// tcpNoDelay reads TCP_NODELAY from the socket of a TCP connection.
func tcpNoDelay(t *testing.T, nc net.Conn) bool {
	t.Helper()
	raw, err := nc.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	var v int
	var opErr error
	require.NoError(t, raw.Control(func(fd uintptr) {
		v, opErr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
	}))
	require.NoError(t, opErr)
	return v != 0
}

// TestWebSocketHandlerSetNoDelay: SetNoDelay turns TCP_NODELAY off and on
// on the connection's socket (Go turns it on by default).
func TestWebSocketHandlerSetNoDelay(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, Settings{}, 0)
	nc := f.h.connection().NetConn()
	require.True(t, tcpNoDelay(t, nc), "Go's default")
	require.NoError(t, f.h.SetNoDelay(false))
	require.False(t, tcpNoDelay(t, nc))
	require.NoError(t, f.h.SetNoDelay(true))
	require.True(t, tcpNoDelay(t, nc))
}
