package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// binary is the notify server, built once for all tests (with -race when the
// tests run with it).
var binary string

func TestMain(m *testing.M) { os.Exit(buildAndRun(m)) }

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "notify-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "notify")
	args := []string{"build", "-o", binary}
	if raceEnabled() {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the notify server:", err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// raceEnv stops a -race binary from sleeping a second at exit (the race
// runtime's default atexit_sleep_ms), which each test would pay.
func raceEnv() string {
	return "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
}

// server is a running notify process.
type server struct {
	addr   string
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan struct{}
	err    error // from Wait, once exited is closed
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testToken is the API token of the servers the tests start.
const testToken = "test-token-0123456789"

// startServer runs the binary on a free port with testToken and the
// cookie secrets given ("1=a,2=b"), from another working directory (as
// `go run ./examples/notify` from the repository root would), and stops it
// with SIGTERM when the test ends.
func startServer(t *testing.T, secrets string) *server {
	t.Helper()
	cmd := exec.Command(binary, "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "NOTIFY_TOKEN="+testToken, "NOTIFY_COOKIE_SECRETS="+secrets, raceEnv())
	cmd.Dir = t.TempDir()
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	s := &server{cmd: cmd, log: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = s.log
	require.NoError(t, cmd.Start())
	addrs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addrs <- addr
			}
		}
		close(addrs)
		s.err = cmd.Wait() // after stdout is drained, as os/exec requires
		close(s.exited)
	}()
	select {
	case addr, ok := <-addrs:
		if !ok {
			<-s.exited
			t.Fatalf("server exited before listening: %v\n%s", s.err, s.log)
		}
		s.addr = addr
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-s.exited
		t.Fatalf("server did not print its address\n%s", s.log)
	}
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("server log:\n%s", s.log)
		}
	})
	return s
}

func (s *server) stop(t *testing.T) {
	t.Helper()
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		t.Error("server did not exit within 15s of SIGTERM")
	}
}
