// Package exampletest builds and runs the examples' commands for their
// tests: each example's test binary builds the command under test once
// (with -race when the tests run with it) and starts it as a process.
package exampletest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/tornago/tornago/internal/testenv"
)

// Main builds the command in the working directory, stores its path in
// *binary, runs the tests, checks for leaked goroutines, and exits: the
// whole TestMain of an example's tests.
func Main(m *testing.M, binary *string) {
	os.Exit(run(m, binary))
}

func run(m *testing.M, binary *string) int {
	bin, cleanup, err := Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cleanup()
	*binary = bin
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

// Build builds the command in the working directory (with -race when the
// tests run with it) into a temporary directory, and returns the binary
// and a function that removes it.
func Build() (binary string, cleanup func(), err error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", nil, err
	}
	name := filepath.Base(wd)
	dir, err := os.MkdirTemp("", name+"-test-")
	if err != nil {
		return "", nil, err
	}
	binary = filepath.Join(dir, name)
	args := []string{"build", "-o", binary}
	if testenv.RaceEnabled() {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("building %s: %w", name, err)
	}
	return binary, func() { os.RemoveAll(dir) }, nil
}

// RaceEnv is an environment entry that stops a -race binary from sleeping
// a second at exit (the race runtime's default atexit_sleep_ms), which
// every test starting a process would pay.
func RaceEnv() string {
	return "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
}

// SyncBuffer collects a process's output, written from several
// goroutines.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
