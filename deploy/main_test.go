package deploy

import (
	"bufio"
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
)

// binDir holds the examples built for this run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tornago-deploy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var (
	buildChat    sync.Once
	chatBin      string
	chatBuildErr error
)

// startChat builds examples/chat (once per run) and runs it with flags on
// a loopback port until the test ends; it returns the port's address.
func startChat(t *testing.T, flags ...string) string {
	t.Helper()
	buildChat.Do(func() {
		chatBin = filepath.Join(binDir, "chat")
		out, err := exec.Command("go", "build", "-o", chatBin, "github.com/tornago/tornago/examples/chat").CombinedOutput()
		if err != nil {
			chatBuildErr = fmt.Errorf("building examples/chat: %v\n%s", err, out)
		}
	})
	require.NoError(t, chatBuildErr)
	src, err := filepath.Abs("../examples/chat")
	require.NoError(t, err)
	cmd := exec.Command(chatBin, append([]string{"-addr", "127.0.0.1:0", "-dir", src}, flags...)...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	lines := bufio.NewScanner(stdout)
	addr := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if a, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
				addr <- a
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("chat exited with %v; its log:\n%s", err, logs.String())
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Error("chat did not stop within 15 s of SIGTERM")
		}
	})
	select {
	case a := <-addr:
		return a
	case <-time.After(30 * time.Second):
		t.Fatalf("chat did not start; its log:\n%s", logs.String())
	}
	return ""
}

// syncBuffer collects a process's output while the test may read it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
