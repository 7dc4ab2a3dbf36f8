package main

import (
	"testing"

	"github.com/tornago/tornago/internal/exampletest"
)

// binary is the notify server, built once for all tests (with -race when the
// tests run with it).
var binary string

func TestMain(m *testing.M) { exampletest.Main(m, &binary) }

// server is a running notify process.
type server struct{ *exampletest.Process }

// testToken is the API token of the servers the tests start.
const testToken = "test-token-0123456789"

// startServer runs the binary on a free port with testToken and the
// cookie secrets given ("1=a,2=b"), from another working directory (as
// `go run ./examples/notify` from the repository root would), and stops it
// with SIGTERM when the test ends.
func startServer(t *testing.T, secrets string) *server {
	t.Helper()
	return &server{exampletest.Start(t, binary, []string{"NOTIFY_TOKEN=" + testToken, "NOTIFY_COOKIE_SECRETS=" + secrets})}
}
