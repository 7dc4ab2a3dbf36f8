package interop

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind: a
// connection's reader, writer or close timer that outlives its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
