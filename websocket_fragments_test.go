package tornago_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/rawpeer"
)

// TestWSMaxMessageFragments: Settings.WebSocketMaxMessageFragments reaches
// the connection: a message in more frames (here empty continuations,
// which the size limit does not count) is refused with 1008, and one
// within it is delivered.
func TestWSMaxMessageFragments(t *testing.T) {
	t.Parallel()
	p := newProbe()
	got := make(chan string, 1)
	p.message = func(_ *faultSocket, m tornago.Message) error {
		got <- m.Text()
		return nil
	}
	a := serveWS(t, tornago.Settings{WebSocketMaxMessageFragments: 8}, p.route("/ws"))

	// sendFragmented sends "a", frames-2 empty continuations and a final "b".
	sendFragmented := func(frames int) (*rawpeer.Peer, error) {
		ws := rawpeer.Dial(t, a.Addr, "/ws", nil)
		ws.Queue(rawpeer.Frame{B0: byte(rawpeer.OpText), Payload: []byte("a")})
		for range frames - 2 {
			ws.Queue(rawpeer.Frame{B0: byte(rawpeer.OpContinuation)})
		}
		ws.Queue(rawpeer.Frame{B0: rawpeer.FIN | byte(rawpeer.OpContinuation), Payload: []byte("b")})
		return ws, ws.TryFlush()
	}

	_, err := sendFragmented(8)
	require.NoError(t, err)
	assert.Equal(t, "ab", <-got)

	ws, err := sendFragmented(9)
	require.NoError(t, err)
	code, reason, _ := ws.ReadClose()
	assert.Equal(t, uint16(1008), code)
	assert.Contains(t, reason, "fragments")
	info := <-p.closeInfo // the first connection is still open
	assert.Equal(t, 0, info.code, "the refused connection's OnClose (no close frame from the peer)")
}
