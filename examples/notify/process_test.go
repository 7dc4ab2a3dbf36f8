package main

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tornago/tornago/internal/exampletest"
)

// binary is the notify server, built once for all tests (with -race when the
// tests run with it).
var binary string

func TestMain(m *testing.M) { exampletest.Main(m, &binary) }

// server is a running notify process.
type server struct {
	addr   string
	cmd    *exec.Cmd
	log    *exampletest.SyncBuffer
	exited chan struct{}
	err    error // from Wait, once exited is closed
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
	cmd.Env = append(os.Environ(), "NOTIFY_TOKEN="+testToken, "NOTIFY_COOKIE_SECRETS="+secrets, exampletest.RaceEnv())
	cmd.Dir = t.TempDir()
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	s := &server{cmd: cmd, log: &exampletest.SyncBuffer{}, exited: make(chan struct{})}
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
