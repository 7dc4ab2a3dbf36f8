package websocket

import (
	"bufio"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadAfterCloseNowWhileCloseWaits: Close is reading for the peer's
// close frame (which never comes) when the connection is closed under it
// and another goroutine reads: that read fails with the reason the
// connection closed, which Close's read recorded, without a data race
// (the race detector checks; this is Application.Shutdown's force-close
// of a connection whose handshake it had started).
func TestReadAfterCloseNowWhileCloseWaits(t *testing.T) {
	t.Parallel()
	a, b := loopbackPair(t)
	c := newConn(a, nil, true, "", &ConnOptions{CloseTimeout: 10 * time.Second})
	closed := make(chan error, 1)
	go func() { closed <- c.Close(StatusNormalClosure, "") }()
	// The close frame is out: Close now reads for the answer.
	require.NoError(t, b.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err := bufio.NewReader(b).Peek(2)
	require.NoError(t, err)
	require.NoError(t, c.CloseNow())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err = c.ReadMessage(ctx)
	require.Error(t, err)
	assert.Error(t, <-closed, "the peer never answered")
}
