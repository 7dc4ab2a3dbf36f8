package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tornago/tornago/websocket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startProgram runs the program on a free port and returns its address
// and a function that stops it (as SIGTERM would) and returns its status.
func startProgram(t *testing.T) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	status := make(chan int, 1)
	go func() { status <- run(ctx, []string{"-addr", "127.0.0.1:0"}, pw, io.Discard) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	require.True(t, ok, "first line: %q", line)
	stopped := false
	stop := func() int {
		if stopped {
			return 0
		}
		stopped = true
		cancel()
		return <-status
	}
	t.Cleanup(func() { stop() })
	return addr, stop
}

func join(t *testing.T, addr, path string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(context.Background(), "ws://"+addr+path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func read(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	return string(b)
}

func TestServeMuxMount(t *testing.T) {
	addr, stop := startProgram(t)

	ann := join(t, addr, "/rooms/lobby/as/ann")
	assert.Equal(t, "joined lobby as ann", read(t, ann), "PathKwarg from {room}, PathArgs from {nick}")
	bob := join(t, addr, "/rooms/lobby")
	assert.Equal(t, "joined lobby", read(t, bob))
	carol := join(t, addr, "/rooms/kitch%65n") // path values are decoded
	assert.Equal(t, "joined kitchen", read(t, carol))

	ctx := context.Background()
	require.NoError(t, ann.WriteMessage(ctx, websocket.TextMessage, []byte("hi")))
	assert.Equal(t, "ann: hi", read(t, ann))
	assert.Equal(t, "ann: hi", read(t, bob))
	require.NoError(t, carol.WriteMessage(ctx, websocket.TextMessage, []byte("anyone?")))
	assert.Equal(t, "anon: anyone?", read(t, carol), "the lobby's message did not reach the kitchen")

	// ServeMux answers what it does not route; the handler never runs.
	_, resp, err := websocket.Dial(ctx, "ws://"+addr+"/rooms/", nil)
	require.Error(t, err)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	// Stopping the program closes every WebSocket with 1001.
	codes := make(chan websocket.StatusCode, 3)
	for _, c := range []*websocket.Conn{ann, bob, carol} {
		go func() {
			for {
				_, _, err := c.ReadMessage(ctx)
				if err != nil {
					var ce *websocket.CloseError
					if errors.As(err, &ce) {
						codes <- ce.Code
					} else {
						codes <- 0
					}
					return
				}
			}
		}()
	}
	assert.Equal(t, 0, stop())
	for range 3 {
		assert.Equal(t, websocket.StatusGoingAway, <-codes)
	}
}
