package tornago_test

import (
	"os"
	"testing"

	"github.com/tornago/tornago/internal/testenv"
	"go.uber.org/goleak"
)

// TestMain checks for leaked goroutines, in a process started with
// GODEBUG=http2xconnect=1 so that WebSockets can be served over HTTP/2.
func TestMain(m *testing.M) {
	if code, rerun := testenv.RerunWithExtendedConnect(); rerun {
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}
