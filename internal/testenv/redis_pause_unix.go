//go:build unix

package testenv

import (
	"syscall"
	"testing"
)

// Pause stops the server (SIGSTOP) without closing its connections, as a
// host or network that silently stops answering; Resume (SIGCONT) lets it
// go on. The test must Resume before it ends.
func (r *RedisServer) Pause(t testing.TB) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("testenv: pausing redis-server: %v", err)
	}
}

// Resume lets a paused server go on.
func (r *RedisServer) Resume(t testing.TB) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("testenv: resuming redis-server: %v", err)
	}
}
