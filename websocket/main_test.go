package websocket

import (
	"os"
	"testing"

	"github.com/tornago/tornago/internal/testenv"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// Conn, reader, writer and handshake must clean up after itself. The
// tests run with GODEBUG=http2xconnect=1, so that the HTTP/2 ones can
// serve RFC 8441.
func TestMain(m *testing.M) {
	if code, rerun := testenv.RerunWithExtendedConnect(); rerun {
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}
