package testenv

import (
	"bufio"
	"bytes"
	"io"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// Child is a helper program a test runs beside it — a Tornado app, a
// Python websockets server — that lives as long as its standard input:
// the program exits when stdin closes, which the test's cleanup does, so
// that no helper outlives its test even when the test fails midway.
type Child struct {
	// Lines delivers the program's standard output, line by line; it is
	// closed when the output ends.
	Lines <-chan string

	name   string
	stderr *lockedBuffer
}

// StartChild starts cmd (whose Stdin, Stdout and Stderr it sets) and,
// when the test ends, closes its standard input and waits up to ten
// seconds for it to exit before killing it. An exit with an error status
// that the cleanup did not cause fails the test, with what the program
// wrote to standard error.
func StartChild(t testing.TB, cmd *exec.Cmd) *Child {
	t.Helper()
	c := &Child{name: cmd.Args[0], stderr: &lockedBuffer{}}
	if len(cmd.Args) > 1 {
		c.name = cmd.Args[1] // the script, for python3 script.py
	}
	cmd.Stderr = c.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("testenv: %s: %v", c.name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("testenv: %s: %v", c.name, err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: starting %s: %v", c.name, err)
	}
	lines := make(chan string, 64)
	c.Lines = lines
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait() // after stdout is drained, as os/exec requires
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		go func() { // nobody reads Lines any more
			for range lines {
			}
		}()
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("testenv: %s exited with %v: %s", c.name, err, c.stderr.String())
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("testenv: %s did not exit within 10s of its stdin closing: %s", c.name, c.stderr.String())
		}
	})
	return c
}

// Line returns the program's next line of output, failing the test if
// none comes within timeout or the program ends first.
func (c *Child) Line(t testing.TB, timeout time.Duration) string {
	t.Helper()
	select {
	case line, ok := <-c.Lines:
		if !ok {
			t.Fatalf("testenv: %s ended its output early: %s", c.name, c.stderr.String())
		}
		return line
	case <-time.After(timeout):
		t.Fatalf("testenv: %s printed nothing within %v: %s", c.name, timeout, c.stderr.String())
		return ""
	}
}

// Stderr returns what the program has written to standard error so far.
func (c *Child) Stderr() string { return c.stderr.String() }

// lockedBuffer is a bytes.Buffer safe to read while a process writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
