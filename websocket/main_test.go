package websocket

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// Conn, reader, writer and handshake must clean up after itself.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
