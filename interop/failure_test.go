package interop

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/websocket"
)

// expectFailure checks that our read failed the connection with code and
// that the foreign peer received a close frame with that code.
func expectFailure(t *testing.T, ctx context.Context, ours *websocket.Conn, peer peerConn, code websocket.StatusCode) {
	t.Helper()
	peerDone := drainPeer(ctx, peer)
	_, _, err := ours.ReadMessage(ctx)
	var pe *websocket.ProtocolError
	require.ErrorAs(t, err, &pe, "our read")
	assert.Equal(t, code, pe.Code, "our ProtocolError (%s)", pe.Reason)
	assert.ErrorIs(t, err, websocket.ErrProtocol)
	assert.ErrorIs(t, err, websocket.ErrClosed)

	err = wait(t, ctx, peerDone, "peer read")
	got, reason, ok := peer.CloseStatus(err)
	require.True(t, ok, "peer read ended with %v, not a close frame", err)
	assert.Equal(t, int(code), got, "code the peer received (reason %q)", reason)
}

// TestInteropReadLimit has each foreign peer send a message larger than
// our read limit, in one frame and in fragments that only add up to too
// much: we must fail the connection with 1009, and the peer must see it.
func TestInteropReadLimit(t *testing.T) {
	t.Parallel()
	const limit = 5000
	for _, k := range allPairs() {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			t.Run("one frame", func(t *testing.T) {
				ctx := testContext(t)
				ours, peer := connect(t, ctx, k, pairConfig{ours: websocket.ConnOptions{ReadLimit: limit}})
				// Not awaited: the write may fail once we drop the connection.
				async(func() error { return peer.Write(ctx, websocket.BinaryMessage, binaryPayload(limit+1)) })
				expectFailure(t, ctx, ours, peer, websocket.StatusMessageTooBig)
			})
			t.Run("fragments", func(t *testing.T) {
				ctx := testContext(t)
				ours, peer := connect(t, ctx, k, pairConfig{ours: websocket.ConnOptions{ReadLimit: limit}})
				async(func() error {
					w, err := peer.NextWriter(ctx, websocket.BinaryMessage)
					if err != nil {
						return err
					}
					for range 3 {
						if _, err := w.Write(binaryPayload(3000)); err != nil {
							return err
						}
					}
					return w.Close()
				})
				expectFailure(t, ctx, ours, peer, websocket.StatusMessageTooBig)
			})
			t.Run("at the limit", func(t *testing.T) {
				ctx := testContext(t)
				ours, peer := connect(t, ctx, k, pairConfig{ours: websocket.ConnOptions{ReadLimit: limit, CloseTimeout: closeTimeout}})
				want := binaryPayload(limit)
				require.NoError(t, peer.Write(ctx, websocket.BinaryMessage, want))
				_, got, err := ours.ReadMessage(ctx)
				require.NoError(t, err, "a message of exactly the limit")
				requireSameBytes(t, want, got, "message at the limit")
				closeFromOurs(t, ctx, ours, peer, 1000, "")
			})
		})
	}
}

// TestInteropInvalidUTF8 has each foreign peer (neither checks what it
// sends) send text that is not UTF-8: we must fail the connection with
// 1007.
func TestInteropInvalidUTF8(t *testing.T) {
	t.Parallel()
	for _, k := range allPairs() {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			ours, peer := connect(t, ctx, k, pairConfig{})
			async(func() error { return peer.Write(ctx, websocket.TextMessage, []byte("valid, then \xff")) })
			expectFailure(t, ctx, ours, peer, websocket.StatusInvalidFramePayloadData)
		})
	}
}
