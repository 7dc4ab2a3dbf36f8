package tornago

// The send queue's limit, to the byte: a write fails exactly when what is
// queued plus its frame would exceed Settings.WebSocketSendQueueSize (or
// the handler's SetSendQueueSize), in Open and after it.

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/websocket"
)

// frameSize is what a binary message of n bytes counts in the send queue:
// its whole frame, as the server writes it.
func frameSize(t *testing.T, n int) int {
	t.Helper()
	pm, err := websocket.NewPreparedMessage(websocket.BinaryMessage, make([]byte, n))
	require.NoError(t, err)
	return pm.Size()
}

// openWriter writes in Open: a limit through SetSendQueueSize (0: the
// Settings' one), then messages until one fails; it reports the results.
type openWriter struct {
	WebSocketHandler
	limit   int
	sizes   []int
	results chan []error
}

func (h *openWriter) Open(args ...string) error {
	if h.limit > 0 {
		h.SetSendQueueSize(h.limit)
	}
	var errs []error
	for i, n := range h.sizes {
		msg := make([]byte, n)
		if n > 8 {
			msg = numbered(i, n)
		}
		err := h.WriteMessage(msg, true)
		errs = append(errs, err)
		if err != nil {
			break
		}
	}
	h.results <- errs
	return nil
}

// TestWebSocketSendQueueLimitInOpen: writes in Open queue until the 101;
// frames that fill the queue to exactly its limit are accepted, the next
// byte is refused, and the client receives exactly the accepted messages.
func TestWebSocketSendQueueLimitInOpen(t *testing.T) {
	t.Parallel()
	const n = 998 // a binary frame of 1,002 bytes (a 4-byte header)
	for _, tc := range []struct {
		name     string
		settings Settings
		handler  int
	}{
		{"Settings.WebSocketSendQueueSize", Settings{WebSocketSendQueueSize: 10 * 1002}, 0},
		{"SetSendQueueSize", Settings{}, 10 * 1002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, 1002, frameSize(t, n))
			sizes := make([]int, 10, 12)
			for i := range sizes {
				sizes[i] = n
			}
			sizes = append(sizes, 0, n) // a 2-byte frame: one byte too many
			results := make(chan []error, 1)
			addr := serveSendApp(t, tc.settings, func() Handler {
				return &openWriter{limit: tc.handler, sizes: sizes, results: results}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
			require.NoError(t, err)
			defer c.CloseNow()
			errs := <-results
			require.Len(t, errs, 11, "the write that overflows is the 2-byte frame after ten that fill the queue")
			for i, err := range errs[:10] {
				require.NoError(t, err, "write %d (queue %d of %d bytes)", i, (i+1)*1002, 10*1002)
			}
			require.Error(t, errs[10], "a queue full to its limit takes no more")
			assert.Contains(t, errs[10].Error(), "exceed the send queue of 10020 bytes")
			for i := range 10 {
				_, b, err := c.ReadMessage(ctx)
				require.NoError(t, err)
				require.Equal(t, numbered(i, n), b)
			}
		})
	}
}

// TestWebSocketSendQueueLimitAfterOpen: against a client that has stopped
// reading, the queue never holds more than its limit, and the write that
// fails with ErrSendQueueFull is one whose frame would have taken it over
// (the queue can only have shrunk between the look and the write, so this
// holds however the socket drains).
func TestWebSocketSendQueueLimitAfterOpen(t *testing.T) {
	t.Parallel()
	const limit = 256 << 10
	const n = 8000
	for _, tc := range []struct {
		name     string
		settings Settings
		handler  int
	}{
		{"Settings.WebSocketSendQueueSize", Settings{WebSocketSendQueueSize: limit}, 0},
		{"SetSendQueueSize", Settings{}, limit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newSendFixture(t, tc.settings, 16384)
			if tc.handler > 0 {
				f.h.SetSendQueueSize(tc.handler)
			}
			size := frameSize(t, n)
			queuedSome := false
			for i := 0; ; i++ {
				require.Less(t, i, 100000, "the queue never overflowed")
				before := f.h.ws.Queued()
				queuedSome = queuedSome || before > 0
				err := f.h.WriteMessage(numbered(i, n), true)
				after := f.h.ws.Queued()
				require.LessOrEqual(t, after, limit, "write %d took the queue over its limit", i)
				if err != nil {
					require.ErrorIs(t, err, ErrSendQueueFull)
					require.True(t, queuedSome, "the queue overflowed without holding anything")
					assert.Greater(t, before+size, limit,
						"write %d refused with %d bytes queued: its %d-byte frame fit the %d-byte limit", i, before, size, limit)
					break
				}
			}
			select {
			case <-f.h.closed:
			case <-time.After(10 * time.Second):
				t.Fatal("the overflow did not close the connection")
			}
		})
	}
}
