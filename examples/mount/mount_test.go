package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tornago/tornago/tornagotest"
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

func TestServeMuxMount(t *testing.T) {
	addr, stop := startProgram(t)
	browser := tornagotest.NewClient(t, "http://"+addr)

	ann := browser.MustDial("/rooms/lobby/as/ann", nil)
	assert.Equal(t, "joined lobby as ann", ann.ReadText(), "PathKwarg from {room}, PathArgs from {nick}")
	bob := browser.MustDial("/rooms/lobby", nil)
	assert.Equal(t, "joined lobby", bob.ReadText())
	carol := browser.MustDial("/rooms/kitch%65n", nil) // path values are decoded
	assert.Equal(t, "joined kitchen", carol.ReadText())

	ann.SendText("hi")
	assert.Equal(t, "ann: hi", ann.ReadText())
	assert.Equal(t, "ann: hi", bob.ReadText())
	carol.SendText("anyone?")
	assert.Equal(t, "anon: anyone?", carol.ReadText(), "the lobby's message did not reach the kitchen")

	// ServeMux answers what it does not route; the handler never runs.
	assert.Equal(t, http.StatusNotFound, browser.Refused("/rooms/", nil).StatusCode)

	// Stopping the program closes every WebSocket with 1001.
	ctx := context.Background()
	codes := make(chan websocket.StatusCode, 3)
	for _, c := range []*tornagotest.Conn{ann, bob, carol} {
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
