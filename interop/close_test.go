package interop

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/websocket"
)

// closeTimeout is the CloseTimeout the close tests give our side; a close
// handshake that completes must return well before it.
const closeTimeout = 4 * time.Second

// drainPeer reads from p until the read fails, then drops TCP (as a server
// must after the close handshake), and returns the read error.
func drainPeer(ctx context.Context, p peerConn) <-chan error {
	return async(func() error {
		defer p.CloseNow()
		for {
			if _, _, err := p.Read(ctx); err != nil {
				return err
			}
		}
	})
}

// closeFromOurs closes ours with code and reason while the peer reads, and
// checks that the handshake completes and the peer sees code and reason.
func closeFromOurs(t *testing.T, ctx context.Context, ours *websocket.Conn, peer peerConn, code websocket.StatusCode, reason string) {
	t.Helper()
	peerDone := drainPeer(ctx, peer)
	start := time.Now()
	require.NoError(t, ours.Close(code, reason), "our Close")
	assert.Less(t, time.Since(start), closeTimeout/2, "Close waited for its timeout: the peer's reply was not recognised")

	err := wait(t, ctx, peerDone, "peer read")
	gotCode, gotReason, ok := peer.CloseStatus(err)
	require.True(t, ok, "peer read ended with %v, not a close frame", err)
	assert.Equal(t, int(code), gotCode, "code seen by the peer")
	assert.Equal(t, reason, gotReason, "reason seen by the peer")

	werr := ours.WriteMessage(ctx, websocket.TextMessage, []byte("too late"))
	assert.ErrorIs(t, werr, websocket.ErrClosed, "write after Close")
}

// TestInteropCloseFromUs closes with 4001 "bye" from our side of every
// pair: the peer must see that code and reason, and reply so that our Close
// returns without waiting for its timeout.
func TestInteropCloseFromUs(t *testing.T) {
	t.Parallel()
	for _, k := range allPairs() {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			ours, peer := connect(t, ctx, k, pairConfig{ours: websocket.ConnOptions{CloseTimeout: closeTimeout}})
			closeFromOurs(t, ctx, ours, peer, 4001, "bye")
		})
	}
}

// TestInteropCloseFromPeer closes with 1001 "going" from the foreign side
// of every pair: our ReadMessage must return *CloseError{1001, "going"}, and
// our reply must carry the same code (the peer's Close checks it).
func TestInteropCloseFromPeer(t *testing.T) {
	t.Parallel()
	for _, k := range allPairs() {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			ours, peer := connect(t, ctx, k, pairConfig{ours: websocket.ConnOptions{CloseTimeout: closeTimeout}})

			type read struct {
				typ websocket.MessageType
				p   []byte
				err error
			}
			reads := make(chan read, 1)
			go func() {
				typ, p, err := ours.ReadMessage(ctx)
				reads <- read{typ, p, err}
			}()

			require.NoError(t, peer.Close(ctx, 1001, "going"), "peer close handshake")

			var r read
			select {
			case r = <-reads:
			case <-ctx.Done():
				t.Fatal("our ReadMessage did not return")
			}
			var ce *websocket.CloseError
			require.ErrorAs(t, r.err, &ce)
			assert.Equal(t, &websocket.CloseError{Code: 1001, Reason: "going"}, ce)
			assert.ErrorIs(t, r.err, websocket.ErrClosed)

			_, _, err := ours.ReadMessage(ctx)
			assert.ErrorIs(t, err, websocket.ErrClosed, "read after the peer's close")
			err = ours.WriteMessage(ctx, websocket.BinaryMessage, []byte{1})
			assert.ErrorIs(t, err, websocket.ErrClosed, "write after the peer's close")
			start := time.Now()
			_ = ours.Close(websocket.StatusNormalClosure, "") // nil or ErrClosed: either is fine
			assert.Less(t, time.Since(start), closeTimeout/2, "Close after the handshake finished")
		})
	}
}

// TestInteropCloseDuringEcho closes from each side while messages are in
// flight: the side not closing keeps echoing until it sees the close frame.
func TestInteropCloseDuringEcho(t *testing.T) {
	t.Parallel()
	for _, k := range allPairs() {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			ours, peer := connect(t, ctx, k, pairConfig{ours: websocket.ConnOptions{CloseTimeout: closeTimeout}})
			echoed := async(func() error { return echoOurs(ctx, ours) })
			for i := range 20 {
				require.NoError(t, peer.Write(ctx, websocket.BinaryMessage, binaryPayload(1000+i)))
			}
			// The peer's Close reads (and discards) the 20 echoes before
			// the close reply.
			require.NoError(t, peer.Close(ctx, 4000, "stop"))
			err := wait(t, ctx, echoed, "our echo loop")
			var ce *websocket.CloseError
			require.True(t, errors.As(err, &ce), "echo loop ended with %v", err)
			assert.Equal(t, websocket.StatusCode(4000), ce.Code)
			assert.Equal(t, "stop", ce.Reason)
		})
	}
}
