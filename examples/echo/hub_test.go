package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/websocket"
)

// With -hub, GET /room relays each message, with its type, to every
// member, the sender included; a member that left gets nothing more.
func TestHubRoom(t *testing.T) {
	s := startServer(t, nil, "-hub")
	members := make([]*websocket.Conn, 3)
	for i := range members {
		members[i] = dial(t, s, "/room", nil)
	}
	for i, m := range []struct {
		typ  websocket.MessageType
		data string
	}{{websocket.TextMessage, "d0001 hello"}, {websocket.BinaryMessage, "\x00\xff"}} {
		require.NoError(t, members[i].WriteMessage(readCtx(t), m.typ, []byte(m.data)))
		for j, c := range members {
			typ, got, err := c.ReadMessage(readCtx(t))
			require.NoError(t, err, "member %d", j)
			assert.Equal(t, m.typ, typ, "member %d", j)
			assert.Equal(t, m.data, string(got), "member %d", j)
		}
	}
	// The others still get what is published after one leaves.
	require.NoError(t, members[2].Close(websocket.StatusNormalClosure, ""))
	require.NoError(t, members[0].WriteMessage(readCtx(t), websocket.TextMessage, []byte("after")))
	for j, c := range members[:2] {
		_, got, err := c.ReadMessage(readCtx(t))
		require.NoError(t, err, "member %d", j)
		assert.Equal(t, "after", string(got), "member %d", j)
	}
}

// -ping turns keepalive on for every endpoint, in both variants (the
// idle benchmark at scale runs /echo with it): the server's pings reach a
// client that reads.
func TestPingFlag(t *testing.T) {
	for _, variant := range [][]string{nil, {"-core"}} {
		t.Run(fmt.Sprint(variant), func(t *testing.T) {
			s := startServer(t, nil, append(variant, "-ping", "20ms")...)
			pinged := make(chan struct{}, 1)
			c := dial(t, s, "/echo", &websocket.DialOptions{ConnOptions: websocket.ConnOptions{OnPing: func([]byte) {
				select {
				case pinged <- struct{}{}:
				default:
				}
			}}})
			read := make(chan error, 1)
			ctx := readCtx(t)
			go func() {
				_, _, err := c.ReadMessage(ctx)
				read <- err
			}()
			select {
			case <-pinged:
			case err := <-read:
				t.Fatalf("the read ended before a ping: %v", err)
			}
			c.CloseNow()
			<-read
		})
	}
}

// -hub serves the handler variant: with -core it is refused.
func TestHubFlagsRefuseCore(t *testing.T) {
	for _, flags := range [][]string{{"-core", "-hub"}} {
		t.Run(fmt.Sprint(flags), func(t *testing.T) {
			var stdout, stderr strings.Builder
			status := run(t.Context(), append(flags, "-addr", "127.0.0.1:0"), func(string) string { return "" }, &stdout, &stderr)
			assert.Equal(t, 1, status)
			assert.Contains(t, stderr.String(), "leave -core out")
		})
	}
}
