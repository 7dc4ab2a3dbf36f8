//go:build linux

package tornago_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/rawpeer"
	"github.com/tornago/tornago/internal/testenv"
)

// TestWSStalledPeerSocketReleased: a client that never reads is closed
// when its send queue overflows, and the server's socket leaves the
// kernel at once instead of lingering for minutes with the bytes the
// client never took (most of a megabyte each: 2,000 such clients held
// 1.5 GiB of kernel memory). The client sees a reset.
func TestWSStalledPeerSocketReleased(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.opened = make(chan *faultSocket, 1)
	a := serveWS(t, tornago.Settings{WebSocketSendQueueSize: 64 << 10}, p.route("/ws"))
	nc := rawpeer.Dial(t, a.Addr, "/ws", nil).Conn // never reads
	h := p.nextOpened(t)
	require.True(t, testenv.TCPSocketListed(t, nc.RemoteAddr(), nc.LocalAddr()), "the server's socket is listed while open")

	chunk := bytes.Repeat([]byte{0xab}, 16<<10)
	var err error
	for i := 0; i < 20000 && err == nil; i++ { // 320 MiB if nothing stopped it
		err = h.WriteMessage(chunk, true)
	}
	require.ErrorIs(t, err, tornago.ErrSendQueueFull)
	p.waitCloses(t, 1, 5*time.Second)
	assert.Eventually(t, func() bool { return !testenv.TCPSocketListed(t, nc.RemoteAddr(), nc.LocalAddr()) },
		10*time.Second, 5*time.Millisecond, "the server's socket is still held by the kernel")

	// The client, reading at last, gets what arrived and then the reset.
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = io.Copy(io.Discard, nc)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "connection reset"), "%v", err)
}
