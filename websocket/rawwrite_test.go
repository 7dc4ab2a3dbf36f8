package websocket

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteBounded covers the three ways writeBounded ends: the socket
// takes everything at once, it takes part and the rest goes out under the
// deadline as the peer reads, or the peer reads nothing and the bound (or
// the user's earlier write deadline) ends the write.
func TestWriteBounded(t *testing.T) {
	t.Parallel()
	t.Run("at once", func(t *testing.T) {
		t.Parallel()
		a, b := loopbackPair(t)
		c := newConn(a, nil, true, "", nil)
		require.True(t, c.rawWritable(), "a TCP connection is written without blocking")
		msg := []byte("HTTP/1.1 101 Switching Protocols\r\n\r\n")
		n, err := c.writeBounded(msg, time.Second)
		require.NoError(t, err)
		require.Equal(t, len(msg), n)
		got := make([]byte, len(msg))
		_, err = io.ReadFull(b, got)
		require.NoError(t, err)
		assert.Equal(t, msg, got)
	})
	t.Run("in part, then the rest", func(t *testing.T) {
		t.Parallel()
		a, b := loopbackPair(t)
		c := newConn(a, nil, true, "", nil)
		msg := make([]byte, 32<<20) // more than loopback socket buffers hold
		rand.Read(msg)
		read := make(chan []byte, 1)
		go func() {
			time.Sleep(50 * time.Millisecond) // let the socket fill first
			got, _ := io.ReadAll(io.LimitReader(b, int64(len(msg))))
			read <- got
		}()
		n, err := c.writeBounded(msg, 10*time.Second)
		require.NoError(t, err)
		require.Equal(t, len(msg), n)
		assert.True(t, bytes.Equal(msg, <-read), "the bytes arrive whole and in order")
	})
	for _, userFirst := range []bool{false, true} {
		name := "the bound ends a write the peer does not read"
		if userFirst {
			name = "an earlier user write deadline ends it first"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, _ := loopbackPair(t)
			c := newConn(a, nil, true, "", nil)
			bound, limit := 200*time.Millisecond, 5*time.Second
			if userFirst {
				require.NoError(t, c.SetWriteDeadline(time.Now().Add(bound)))
				bound = 10 * time.Second
			}
			start := time.Now()
			n, err := c.writeBounded(make([]byte, 32<<20), bound)
			took := time.Since(start)
			require.Error(t, err)
			assert.True(t, isTimeout(err), "a timeout: %v", err)
			assert.Less(t, n, 32<<20)
			assert.Less(t, took, limit)
			if userFirst {
				// The user's deadline stays in force after the call.
				_, err := c.writeBounded([]byte("x"), time.Second)
				assert.True(t, isTimeout(err), "the user's passed deadline still applies: %v", err)
			}
		})
	}
}

// TestCloseWaitsBoundedForTheFrameLock holds the frame lock as a writer
// stuck on a full socket would: Close gives up after the close timeout
// and drops TCP.
func TestCloseWaitsBoundedForTheFrameLock(t *testing.T) {
	t.Parallel()
	a, _ := loopbackPair(t)
	c := newConn(a, nil, true, "", &ConnOptions{CloseTimeout: 150 * time.Millisecond})
	c.locks.lockNow(lockFrame)
	start := time.Now()
	err := c.Close(StatusNormalClosure, "")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	assert.True(t, c.isClosed(), "TCP is closed")
	c.locks.unlock(lockFrame)
}

// TestCloseFrameOnTheWire checks the frame Close writes through its own
// path, in both roles: FIN, opcode 8, the code and reason, masked by a
// client only.
func TestCloseFrameOnTheWire(t *testing.T) {
	t.Parallel()
	for _, server := range []bool{true, false} {
		a, b := loopbackPair(t)
		c := newConn(a, nil, server, "", &ConnOptions{CloseTimeout: 100 * time.Millisecond})
		// The peer's close frame is not sent: Close times out waiting.
		_ = c.Close(StatusGoingAway, "bye")
		require.NoError(t, b.SetReadDeadline(time.Now().Add(5*time.Second)))
		frame, err := io.ReadAll(b)
		require.NoError(t, err)
		h, hlen, err := parseHeader(frame)
		require.NoError(t, err)
		assert.True(t, h.fin)
		assert.Equal(t, opClose, h.op)
		assert.Equal(t, !server, h.masked, "masked by a client only")
		payload := frame[hlen:]
		require.Len(t, payload, int(h.length))
		if h.masked {
			maskBytes(h.key, payload)
		}
		ce, err := parseClosePayload(payload)
		require.NoError(t, err)
		assert.Equal(t, &CloseError{Code: StatusGoingAway, Reason: "bye"}, ce)
	}
}
