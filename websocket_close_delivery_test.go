package tornago_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/rawpeer"
)

// TestWSCloseFrameSurvivesForcedShutdown: a close frame that Flush says
// has been written reaches the peer even when Application.Shutdown, with
// a context that has already ended, drops the connection right after:
// the connection ends with a FIN behind the frame, never a reset that
// would make the peer's kernel discard it. Repeated, because the loss
// was a race lost about half the time.
func TestWSCloseFrameSurvivesForcedShutdown(t *testing.T) {
	t.Parallel()
	const runs = 50
	for _, tc := range []struct {
		name   string
		answer bool // the client answers the close frame
	}{
		{"client answers", true},
		{"client never answers", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for i := range runs {
				p := newProbe()
				flushed := make(chan error, 1)
				p.message = func(h *faultSocket, _ tornago.Message) error {
					require.NoError(t, h.Close(4100, "flushed"))
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					flushed <- h.Flush(ctx)
					return nil
				}
				a := serveWS(t, tornago.Settings{}, p.route("/ws"))
				ws := rawpeer.Dial(t, a.Addr, "/ws", nil)
				ws.Send(rawpeer.Frame{B0: rawpeer.FIN | byte(rawpeer.OpText), Payload: []byte("close please")})
				require.NoError(t, <-flushed, "run %d", i)
				expired, cancelExpired := context.WithCancel(context.Background())
				cancelExpired()
				assert.ErrorIs(t, a.App.Shutdown(expired), context.Canceled)

				ws.ExpectCloseCode(4100, fmt.Sprintf("run %d: the close frame, before the connection ends", i))
				if tc.answer {
					// The server may be gone already: the answer may
					// meet a closed socket, which is the client's affair.
					ws.Queue(rawpeer.Frame{B0: rawpeer.FIN | byte(rawpeer.OpClose), Payload: rawpeer.ClosePayload(4100, "")})
					_ = ws.TryFlush()
				} else {
					_, _, err := ws.ReadFrame()
					require.ErrorIs(t, err, io.EOF, "run %d: the server ends with a FIN, not a reset", i)
				}
				p.waitCloses(t, 1, 5*time.Second)
				ws.Conn.Close()
				a.shutdown(t)
			}
		})
	}
}

// TestWSForcedShutdownAfterGoingAway: Shutdown's 1001 reaches a client
// that never answers it, and when Shutdown's context ends while it waits
// for the answer, the connection ends with a FIN behind the frame and
// OnClose runs once.
func TestWSForcedShutdownAfterGoingAway(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.opened = make(chan *faultSocket, 1)
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	ws := rawpeer.Dial(t, a.Addr, "/ws", nil)
	p.nextOpened(t)

	ctx, cancel := context.WithCancel(context.Background())
	shutdown := make(chan error, 1)
	go func() { shutdown <- a.App.Shutdown(ctx) }()
	code, reason, _ := ws.ReadClose()
	assert.Equal(t, uint16(1001), code)
	assert.Equal(t, "server shutting down", reason)
	cancel() // the client has not answered, and will not
	assert.ErrorIs(t, <-shutdown, context.Canceled)

	_, _, err := ws.ReadFrame()
	assert.ErrorIs(t, err, io.EOF, "the server ends with a FIN, not a reset")
	p.waitCloses(t, 1, 5*time.Second)
	a.shutdown(t)
	assert.Equal(t, int32(1), p.closes.Load())
}
