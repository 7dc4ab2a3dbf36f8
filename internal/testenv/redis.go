package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// RedisServer is a redis-server process of a test's own, on a loopback
// port, without persistence. Kill and Start stop it as a crash would and
// start it again on the same port, for tests of what survives Redis going
// away; the process is killed when the test ends.
type RedisServer struct {
	// Addr is host:port, the same across restarts.
	Addr string

	bin, dir string
	args     []string // extra redis-server arguments (a cluster node's)
	cmd      *exec.Cmd
	exited   chan struct{} // closed once cmd has exited
}

// StartRedis starts a redis-server, or skips/fails t via Missing when the
// program is not installed.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	r := &RedisServer{bin: LookPath(t, "redis-server"), dir: t.TempDir()}
	r.startOnFreePort(t, nil)
	return r
}

// startAttempts bounds how often a server that could not bind the port it
// was given is started again on another one.
const startAttempts = 5

// startOnFreePort starts the server on a free port, asking args for its
// extra arguments on each attempt (a cluster node's bus port must be free
// too); it starts again elsewhere when the server exits first, as it does
// when another socket takes the port between FreeAddr and its bind.
func (r *RedisServer) startOnFreePort(t testing.TB, args func() []string) {
	t.Helper()
	t.Cleanup(r.Kill)
	var err error
	for range startAttempts {
		r.Addr = FreeAddr(t)
		if args != nil {
			r.args = args()
		}
		_ = os.Remove(filepath.Join(r.dir, "nodes.conf")) // a failed node's identity
		if err = r.start(); err == nil {
			return
		}
	}
	t.Fatalf("testenv: %v", err)
}

// Start starts the server (again, on the same port) and waits until it
// answers PING.
func (r *RedisServer) Start(t testing.TB) {
	t.Helper()
	if err := r.start(); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// start starts the process and waits until it answers PING, or returns
// an error with its log when it exits or stays silent for 10 s.
func (r *RedisServer) start() error {
	_, port, _ := net.SplitHostPort(r.Addr)
	_ = os.Remove(filepath.Join(r.dir, "redis.log"))
	cmd := exec.Command(r.bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--logfile", filepath.Join(r.dir, "redis.log"))
	cmd.Args = append(cmd.Args, r.args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	r.cmd, r.exited = cmd, exited
	deadline := time.Now().Add(10 * time.Second)
	for !r.answers() {
		select {
		case <-exited:
			r.cmd = nil
			return fmt.Errorf("redis-server on %s exited; its log:\n%s", r.Addr, r.Log())
		default:
		}
		if time.Now().After(deadline) {
			r.Kill()
			return fmt.Errorf("redis-server did not answer on %s; its log:\n%s", r.Addr, r.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// answers reports whether the server answers PING with PONG.
func (r *RedisServer) answers() bool {
	c, err := net.DialTimeout("tcp", r.Addr, 100*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// Kill ends the server with SIGKILL, as a crash; it does nothing when the
// server is not running.
func (r *RedisServer) Kill() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.exited
	r.cmd = nil
}

// Log returns what the server has logged.
func (r *RedisServer) Log() string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
	return string(b)
}

// FreeAddr returns a loopback address with a port nobody listens on now,
// for a program the test starts that must be told its port (redis-server,
// nginx). Where the code under test listens itself, listen on port 0
// instead: a port found free here can be taken before the program binds it.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: finding a free port: %v", err)
	}
	defer l.Close()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
}
