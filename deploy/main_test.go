package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tornago/tornago/internal/exampletest"
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
	p := exampletest.Start(t, chatBin, nil, append([]string{"-dir", src}, flags...)...)
	return p.Addr
}
