// Package e2e drives tornago's examples from a real, headless Chromium: the
// browser's own WebSocket client, origin policy, cookies and
// permessage-deflate offer against the example servers, built from this
// repository and started as separate processes.
//
// The tests need Debian's chromium (ci-install.sh installs it). Without it
// they skip, unless TORNAGO_REQUIRE_EXTERNAL=1 (as .ci/run sets), which
// makes them fail instead.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tornago/tornago/internal/exampletest"
	"github.com/tornago/tornago/internal/testenv"
)

// examples are the example programs the tests run, built once per run.
var examples = []string{"chat", "notify", "echo"}

// built is closed when the examples are built; binDir then holds them,
// unless buildErr says why not.
var (
	built    = make(chan struct{})
	binDir   string
	buildErr error
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "tornago-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	// The build overlaps with the first browser's start. Without a
	// browser every test skips, so nothing is built.
	go func() {
		defer close(built)
		if _, ok := findChromium(); ok {
			buildErr = buildExamples(dir)
		}
	}()
	code := m.Run()
	<-built
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

// buildExamples builds the examples into dir with one go command (which
// links them in parallel), with the race detector when the tests run with
// it.
func buildExamples(dir string) error {
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if testenv.RaceEnabled() {
		args = append(args, "-race")
	}
	for _, name := range examples {
		args = append(args, "./examples/"+name)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// exampleBinary waits for the build and returns the path of examples/<name>.
func exampleBinary(t *testing.T, name string) string {
	t.Helper()
	select {
	case <-built:
	case <-time.After(5 * time.Minute):
		t.Fatal("building the examples took over 5 minutes")
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

// server is a running example process.
type server struct {
	*exampletest.Process
	name string
}

// syncBuffer collects a process's output for several goroutines.
type syncBuffer = exampletest.SyncBuffer

// startExample runs examples/<name> (built once by TestMain) on a free
// loopback port with extra flags and environment, and stops it with
// SIGTERM when the test ends; exampletest.Start does the rest.
func startExample(t *testing.T, name string, env []string, flags ...string) *server {
	t.Helper()
	return &server{Process: exampletest.Start(t, exampleBinary(t, name), env, flags...), name: name}
}

// httpURL is the server's http:// URL for path.
func (s *server) httpURL(path string) string { return "http://" + s.Addr + path }

// wsURL is the server's ws:// URL for path.
func (s *server) wsURL(path string) string { return "ws://" + s.Addr + path }

// waitLog waits (bounded) until the server's log has a line holding text.
func (s *server) waitLog(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.Log.String(), text) {
		if time.Now().After(deadline) {
			t.Errorf("%s logged no %q within 10s", s.name, text)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
