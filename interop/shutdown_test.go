package interop

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

// closingSocket closes with 4100 on any message, waits for Flush and
// reports its result.
type closingSocket struct {
	tornago.WebSocketHandler
	flushed chan<- error
}

func (h *closingSocket) OnMessage(tornago.Message) error {
	if err := h.Close(4100, "flushed"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.flushed <- h.Flush(ctx)
	return nil
}

// TestInteropGorillaSeesCloseBeforeForcedShutdown: a tornago handler
// closes with 4100 and Flush returns nil; Application.Shutdown then runs
// with a context that has already ended. A gorilla client must read the
// 4100 close frame every time (it used to see the connection end without
// one in about half the runs).
func TestInteropGorillaSeesCloseBeforeForcedShutdown(t *testing.T) {
	t.Parallel()
	const runs = 50
	for i := range runs {
		flushed := make(chan error, 1)
		app, err := tornago.NewApplication([]tornago.Route{{
			Pattern: "/ws",
			Handler: func() tornago.Handler { return &closingSocket{flushed: flushed} },
		}}, tornago.Settings{Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		served := make(chan error, 1)
		go func() { served <- app.Serve(ln) }()

		dialer := gorilla.Dialer{HandshakeTimeout: 5 * time.Second}
		c, _, err := dialer.Dial("ws://"+ln.Addr().String()+"/ws", nil)
		require.NoError(t, err, "run %d", i)
		require.NoError(t, c.WriteMessage(gorilla.TextMessage, []byte("close please")))
		require.NoError(t, <-flushed, "run %d", i)

		expired, cancel := context.WithCancel(context.Background())
		cancel()
		assert.ErrorIs(t, app.Shutdown(expired), context.Canceled)

		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, _, err = c.ReadMessage()
		var ce *gorilla.CloseError
		require.True(t, errors.As(err, &ce), "run %d: gorilla read %v, not a close frame", i, err)
		assert.Equal(t, 4100, ce.Code, "run %d", i)
		assert.Equal(t, "flushed", ce.Text, "run %d", i)
		c.Close()

		ctx, cancelWait := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, app.Shutdown(ctx))
		cancelWait()
		require.NoError(t, <-served)
	}
}
