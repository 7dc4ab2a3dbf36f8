package tornago_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/testenv"
)

// A WebSocketHandler driven by a client we did not write: Python's
// `websockets` (Debian's python3-websockets 10.4), through
// testdata/python/ws_client_handler.py. Clients from Go libraries
// (gorilla/websocket) are tested in the nested module
// examples/mount/routers, since the root module depends on no peer.

// pySocket greets with the secure cookie the client sent back (or sets
// one and greets with "new"), echoes, and closes with 4040 on "close".
type pySocket struct {
	tornago.WebSocketHandler
	closes *atomic.Int32
	codes  chan int
}

func (h *pySocket) Open(args ...string) error {
	user, err := h.GetSecureCookie("session")
	if err != nil {
		if err := h.SetSecureCookie("session", "py-user"); err != nil {
			return err
		}
		return h.WriteText("new")
	}
	return h.WriteText("back: " + user)
}

func (h *pySocket) OnMessage(m tornago.Message) error {
	if !m.Binary && m.Text() == "close" {
		return h.Close(4040, "bye from go")
	}
	return h.WriteMessage(m.Data, m.Binary)
}

func (h *pySocket) OnClose() {
	h.closes.Add(1)
	h.codes <- h.CloseCode()
}

func TestWebSocketHandlerPythonClient(t *testing.T) {
	py := testenv.Python(t, "websockets")
	var closes atomic.Int32
	codes := make(chan int, 2)
	a := serveWS(t, tornago.Settings{}, tornago.Route{
		Pattern: "/ws",
		Handler: func() tornago.Handler { return &pySocket{closes: &closes, codes: codes} },
	})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/python/ws_client_handler.py", a.url("/ws"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "python: %s", stderr.String())

	var seen struct {
		SetCookie      string `json:"set_cookie"`
		FirstGreeting  string `json:"first_greeting"`
		FirstCloseCode int    `json:"first_close_code"`
		SecondGreeting string `json:"second_greeting"`
		TextEchoOK     bool   `json:"text_echo_ok"`
		BinaryEchoOK   bool   `json:"binary_echo_ok"`
		Pong           bool   `json:"pong"`
		CloseCode      int    `json:"close_code"`
		CloseReason    string `json:"close_reason"`
	}
	require.NoError(t, json.Unmarshal(out, &seen), "python printed %q", out)
	assert.True(t, strings.HasPrefix(seen.SetCookie, "session="), "Set-Cookie from Open on the 101: %q", seen.SetCookie)
	assert.Equal(t, "new", seen.FirstGreeting)
	assert.Equal(t, 1000, seen.FirstCloseCode, "Python's own close, echoed")
	assert.Equal(t, "back: py-user", seen.SecondGreeting, "the secure cookie came back and verified")
	assert.True(t, seen.TextEchoOK, "text echo")
	assert.True(t, seen.BinaryEchoOK, "binary echo")
	assert.True(t, seen.Pong, "pong")
	assert.Equal(t, 4040, seen.CloseCode, "close code from the handler")
	assert.Equal(t, "bye from go", seen.CloseReason)

	a.shutdown(t)
	assert.Equal(t, int32(2), closes.Load())
	got := []int{<-codes, <-codes}
	assert.ElementsMatch(t, []int{1000, 4040}, got, "CloseCode in OnClose: Python's close, then its echo of ours")
}
