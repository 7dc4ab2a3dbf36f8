package e2e

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/websocket"
)

// TestChatReconnect: stopping the chat server and starting it again on the
// same address makes the page reconnect by itself (js/reconnect.js, served
// as /reconnect.js) and show new messages without a reload: one posted
// while it was reconnecting, through its onreconnect resync, and one
// posted afterwards, live.
func TestChatReconnect(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	first := startChat(t)
	b := newBrowser(t)
	p := b.newPage(t, "chat")
	openChat(p, first)
	eval[bool](p, `window.notReloaded = true`)
	recordClose(p, "")

	require.NoError(t, first.Cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 1001, waitClose(p).Code)
	select {
	case <-first.Exited:
	case <-time.After(actionTimeout):
		t.Fatal("chat still running after SIGTERM")
	}

	second := startChat(t, "-addr", first.Addr) // the last -addr wins
	postFromGo(t, second, "posted while the page was away")
	p.waitJSWithin(`updater.socket.readyState === WebSocket.OPEN`, "the page to reconnect", reconnectTimeout)
	waitInbox(p, "posted while the page was away")

	postFromGo(t, second, "posted after the reconnect")
	waitInbox(p, "posted after the reconnect")
	assert.True(t, eval[bool](p, `window.notReloaded === true`), "the page was reloaded")
	assert.Equal(t, 2, eval[int](p, `document.querySelectorAll("#inbox .message").length`), "each message once")
}

// postFromGo posts one chat message to s from a Go client, as another
// member would, and waits for its echo.
func postFromGo(t *testing.T, s *server, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, s.wsURL("/chatsocket"), nil)
	require.NoError(t, err)
	defer c.CloseNow()
	require.NoError(t, c.WriteMessage(ctx, websocket.TextMessage, []byte(`{"body":"`+text+`"}`)))
	_, _, err = c.ReadMessage(ctx)
	require.NoError(t, err)
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
}
