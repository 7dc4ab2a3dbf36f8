package websocket

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestH2EchoSizes echoes messages of every length encoding's boundary
// over an HTTP/2 stream, and checks that the server saw an extended
// CONNECT (RFC 8441) on HTTP/2.
func TestH2EchoSizes(t *testing.T) {
	t.Parallel()
	s := h2EchoServer(t, nil)
	c := s.dial(t, nil)
	r := <-s.requests
	assert.Equal(t, 2, r.ProtoMajor)
	assert.Equal(t, http.MethodConnect, r.Method)
	assert.Equal(t, "websocket", r.Header.Get(":protocol"))
	assert.Empty(t, r.Header.Get("Sec-WebSocket-Key"), "RFC 8441 has no key")
	ctx := context.Background()
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 1 << 20} {
		for _, typ := range []MessageType{TextMessage, BinaryMessage} {
			msg := bytes.Repeat([]byte("a"), n)
			require.NoError(t, c.WriteMessage(ctx, typ, msg))
			gotTyp, got, err := c.ReadMessage(ctx)
			require.NoError(t, err)
			assert.Equal(t, typ, gotTyp)
			assert.True(t, bytes.Equal(msg, got), "size %d", n)
		}
	}
	require.NoError(t, c.Close(StatusNormalClosure, "done"))
	_, _, err := c.ReadMessage(ctx)
	assert.ErrorIs(t, err, ErrClosed)
}
