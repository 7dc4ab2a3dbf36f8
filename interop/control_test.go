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

// TestInteropPingFromUs pings each foreign peer from our side while both
// ends read: the peer's pong must reach OnPong with our payload.
func TestInteropPingFromUs(t *testing.T) {
	t.Parallel()
	for _, k := range allPairs() {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			pongs := make(chan []byte, 4)
			ours, peer := connect(t, ctx, k, pairConfig{ours: websocket.ConnOptions{
				CloseTimeout: closeTimeout,
				OnPong:       func(p []byte) { pongs <- append([]byte(nil), p...) },
			}})
			ourReads := async(func() error { return echoOurs(ctx, ours) })
			peerReads := drainPeer(ctx, peer)
			for _, p := range [][]byte{[]byte("tornago-ping"), {}, bytes.Repeat([]byte{0x81}, 125)} {
				require.NoError(t, ours.Ping(ctx, p))
				select {
				case got := <-pongs:
					assert.Equal(t, fmt.Sprintf("%x", p), fmt.Sprintf("%x", got), "pong payload")
				case <-ctx.Done():
					t.Fatalf("no pong for a %d-byte ping", len(p))
				}
			}
			require.NoError(t, ours.Close(1000, ""))
			_ = wait(t, ctx, peerReads, "peer read")
			_ = wait(t, ctx, ourReads, "our read")
		})
	}
}

// TestInteropPingInsideFragmentedMessage has each foreign peer ping us
// between the fragments of a message it is sending: we must answer the
// ping while the message is half read, then deliver the message whole.
func TestInteropPingInsideFragmentedMessage(t *testing.T) {
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
			peerReads := drainPeer(ctx, peer)

			first, second := textPayload(20000), textPayload(30000)
			w, err := peer.NextWriter(ctx, websocket.TextMessage)
			require.NoError(t, err)
			_, err = w.Write(first) // gorilla sends 4 full frames, coder 1
			require.NoError(t, err)
			sent, pong, err := peer.Ping(ctx, []byte("mid-message"))
			require.NoError(t, err, "ping between fragments")
			assert.Equal(t, string(sent), string(pong))
			_, err = w.Write(second)
			require.NoError(t, err)
			require.NoError(t, w.Close())

			var r read
			select {
			case r = <-reads:
			case <-ctx.Done():
				t.Fatal("our ReadMessage did not return")
			}
			require.NoError(t, r.err)
			assert.Equal(t, websocket.TextMessage, r.typ)
			requireSameBytes(t, append(first, second...), r.p, "message around the ping")

			require.NoError(t, ours.Close(1000, ""))
			_ = wait(t, ctx, peerReads, "peer read")
		})
	}
}
