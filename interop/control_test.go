package interop

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/websocket"
)

// TestInteropPingFromPeer has each foreign peer ping us while our side is
// reading: the pong must carry the ping's payload, and our OnPing must see
// it. gorilla sends the payloads below; coder chooses its own ("1", "2").
func TestInteropPingFromPeer(t *testing.T) {
	t.Parallel()
	payloads := []struct {
		name string
		p    []byte
	}{
		{"library's own", nil},
		{"empty", []byte{}},
		{"text", []byte("are you there?")},
		{"125 bytes", bytes.Repeat([]byte{0xa5, 0x00, 0xff, 0x5a, 0x01}, 25)},
	}
	for _, k := range allPairs() {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			pings := make(chan []byte, len(payloads))
			ours, peer := connect(t, ctx, k, pairConfig{ours: websocket.ConnOptions{
				CloseTimeout: closeTimeout,
				OnPing: func(p []byte) {
					pings <- append([]byte(nil), p...)
				},
			}})
			ourReads := async(func() error { return echoOurs(ctx, ours) })
			peerReads := drainPeer(ctx, peer)

			for _, pl := range payloads {
				if pl.p != nil && !k.lib.customPingPayload {
					continue
				}
				sent, pong, err := peer.Ping(ctx, pl.p)
				require.NoError(t, err, "%s ping (%s payload)", k.lib.name, pl.name)
				assert.Equal(t, fmt.Sprintf("%x", sent), fmt.Sprintf("%x", pong), "pong payload for the %s ping", pl.name)
				select {
				case got := <-pings:
					assert.Equal(t, fmt.Sprintf("%x", sent), fmt.Sprintf("%x", got), "OnPing payload for the %s ping", pl.name)
				case <-ctx.Done():
					t.Fatal("OnPing was not called")
				}
			}

			require.NoError(t, ours.Close(4001, "bye"))
			err := wait(t, ctx, peerReads, "peer read")
			code, _, ok := peer.CloseStatus(err)
			require.True(t, ok, "peer read ended with %v", err)
			assert.Equal(t, 4001, code)
			_ = wait(t, ctx, ourReads, "our read") // ends with whatever our own Close makes it return
		})
	}
}

// TestInteropSubprotocol negotiates subprotocols in each pair. The cases
// with one common protocol (or none) have one answer whichever side
// chooses; the last case checks our server's preference order, which
// foreign servers need not share (gorilla follows the client's order).
func TestInteropSubprotocol(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name           string
		server, client []string
		want           string
		ourServerOnly  bool
	}{
		{name: "one in common", server: []string{"echo.v1", "other.v1"}, client: []string{"x.unknown", "echo.v1"}, want: "echo.v1"},
		{name: "none in common", server: []string{"echo.v1"}, client: []string{"x.unknown"}, want: ""},
		{name: "client offers none", server: []string{"echo.v1"}, want: ""},
		{name: "server supports none", client: []string{"echo.v1"}, want: ""},
		{name: "server preference", server: []string{"chat.v2", "chat.v1"}, client: []string{"chat.v1", "chat.v2"}, want: "chat.v2", ourServerOnly: true},
	}
	for _, k := range allPairs() {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				if tc.ourServerOnly && k.role != ourServer {
					continue
				}
				t.Run(tc.name, func(t *testing.T) {
					ctx := testContext(t)
					ours, peer := connect(t, ctx, k, pairConfig{serverProtocols: tc.server, clientProtocols: tc.client})
					assert.Equal(t, tc.want, ours.Subprotocol(), "our Subprotocol")
					assert.Equal(t, tc.want, peer.Subprotocol(), "%s Subprotocol", k.lib.name)

					// The connection works after the negotiation.
					echoed := async(func() error { return echoOurs(ctx, ours) })
					require.NoError(t, peer.Write(ctx, websocket.TextMessage, []byte(tc.name)))
					_, p, err := peer.Read(ctx)
					require.NoError(t, err)
					assert.Equal(t, tc.name, string(p))
					require.NoError(t, peer.Close(ctx, 1000, ""))
					_ = wait(t, ctx, echoed, "our echo loop")
				})
			}
		})
	}
}
