// Package exampletest builds and runs the examples' commands for their
// tests: each example's test binary builds the command under test once
// (with -race when the tests run with it) and starts it as a process
// (Start).
package exampletest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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

// Process is a running example command.
type Process struct {
	Addr   string        // where it listens, HOST:PORT
	Cmd    *exec.Cmd     // the process
	Log    *SyncBuffer   // its standard error, and standard output after the address
	Exited chan struct{} // closed once it has exited
	Err    error         // from Wait, once Exited is closed

	stopped bool // Stop has run (it reports a bad exit once)
}

// Start runs binary with -addr 127.0.0.1:0 and flags (a later -addr wins),
// env added to its environment, from a temporary working directory (as
// `go run ./examples/NAME` from the repository root would; on Linux the
// kernel kills it if the test process dies first), waits until it prints
// "listening on ADDR", and stops it with SIGTERM when the test ends
// (Stop: a non-zero exit status fails the test), logging its output if
// the test failed.
func Start(t *testing.T, binary string, env []string, flags ...string) *Process {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"-addr", "127.0.0.1:0"}, flags...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(append(os.Environ(), RaceEnv()), env...)
	dieWithTests(cmd)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	p := &Process{Cmd: cmd, Log: &SyncBuffer{}, Exited: make(chan struct{})}
	cmd.Stderr = p.Log
	require.NoError(t, cmd.Start())
	addrs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "listening on "); ok && !found {
				found = true
				addrs <- strings.TrimSpace(addr)
				continue
			}
			fmt.Fprintln(p.Log, sc.Text()) // the rest of stdout joins the log
		}
		close(addrs)
		p.Err = cmd.Wait() // after stdout is drained, as os/exec requires
		close(p.Exited)
	}()
	select {
	case addr, ok := <-addrs:
		if !ok {
			<-p.Exited
			t.Fatalf("%s exited before listening: %v\n%s", filepath.Base(binary), p.Err, p.Log)
		}
		p.Addr = addr
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-p.Exited
		t.Fatalf("%s did not print its address\n%s", filepath.Base(binary), p.Log)
	}
	t.Cleanup(func() {
		p.Stop(t)
		if t.Failed() {
			t.Logf("%s at %s, log:\n%s", filepath.Base(binary), p.Addr, p.Log)
		}
	})
	return p
}

// Stop sends SIGTERM and waits for the process to exit, which must be
// with status 0: the examples stop gracefully, and one that exits with an
// error (or dies of a signal) fails the test. A process that has already
// exited is only checked.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	if p.stopped {
		return
	}
	p.stopped = true
	select {
	case <-p.Exited:
	default:
		_ = p.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.Exited:
		case <-time.After(20 * time.Second):
			_ = p.Cmd.Process.Kill()
			<-p.Exited
			t.Error("process did not exit within 20s of SIGTERM")
			return
		}
	}
	if p.Err != nil {
		t.Errorf("%s exited with %v", filepath.Base(p.Cmd.Path), p.Err)
	}
}

// Kill ends the process at once (SIGKILL), as a crash or kill -9 does,
// and waits for it; the test's end then does not check its exit status.
func (p *Process) Kill() {
	p.stopped = true
	_ = p.Cmd.Process.Kill()
	<-p.Exited
}
