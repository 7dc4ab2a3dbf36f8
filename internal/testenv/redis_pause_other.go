//go:build !unix

package testenv

import "testing"

// Pause would stop the server without closing its connections; without
// SIGSTOP the test is skipped (Debian's redis-server, which these tests
// run, is a Unix program anyway).
func (r *RedisServer) Pause(t testing.TB) {
	t.Helper()
	t.Skip("testenv: pausing redis-server needs SIGSTOP (Unix)")
}

// Resume lets a paused server go on; see Pause.
func (r *RedisServer) Resume(t testing.TB) { t.Helper() }
