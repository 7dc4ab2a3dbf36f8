package websocket

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/rawpeer"
)

// TestReadFragmentLimit: a message may span at most MaxFragments frames
// (by default one per 64 bytes of the read limit, at least 1024); the frame
// past the limit fails the connection with 1008, so that empty
// continuation frames, which the read limit does not count, cannot keep
// a message open forever. Legitimate fragmented writers stay within it.
func TestReadFragmentLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		opts   ConnOptions
		frames int  // frames the peer sends for one text message
		ok     bool // the message is delivered
	}{
		{"default limit, 10 MiB read limit: 163,840 frames", ConnOptions{}, 163840, true},
		{"default limit, 10 MiB read limit: 163,841 frames", ConnOptions{}, 163841, false},
		{"default floor with a 64 KiB read limit", ConnOptions{ReadLimit: 64 << 10}, 1025, false},
		{"default floor with a 64 KiB read limit, within", ConnOptions{ReadLimit: 64 << 10}, 1024, true},
		{"set to 3", ConnOptions{MaxFragments: 3}, 4, false},
		{"set to 3, within", ConnOptions{MaxFragments: 3}, 3, true},
		{"no limit", ConnOptions{MaxFragments: -1}, 200000, true},
		{"no read limit, no default fragment limit", ConnOptions{ReadLimit: -1}, 200000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cp := confConnect(t, true, tc.opts, func(ctx context.Context, c *Conn) error {
				typ, data, err := c.ReadMessage(ctx)
				if err != nil {
					return err
				}
				if typ != TextMessage || string(data) != "ab" {
					return fmt.Errorf("got %s %q", typ, rawpeer.Short(data))
				}
				return c.Close(StatusNormalClosure, "")
			})
			// "a", then empty continuations, then the final "b": all but
			// two frames carry nothing.
			cp.peer.Queue(rawpeer.Frame{B0: byte(rawpeer.OpText), Payload: []byte("a")})
			for range tc.frames - 2 {
				cp.peer.Queue(rawpeer.Frame{B0: byte(rawpeer.OpContinuation)})
			}
			cp.peer.Queue(rawpeer.Frame{B0: rawpeer.FIN | byte(rawpeer.OpContinuation), Payload: []byte("b")})
			if tc.ok {
				cp.peer.ExpectCloseCode(uint16(StatusNormalClosure), "after the message")
				cp.peer.Queue(rawpeer.Frame{B0: rawpeer.FIN | byte(rawpeer.OpClose), Payload: rawpeer.ClosePayload(1000, "")})
				cp.peer.Flush()
				require.NoError(t, cp.wait(t))
				return
			}
			cp.peer.ExpectCloseCode(uint16(StatusPolicyViolation), "too many fragments")
			cp.peer.ExpectTCPClose(rawpeer.Timeout, "after the violation")
			var pe *ProtocolError
			require.ErrorAs(t, cp.wait(t), &pe)
			assert.Equal(t, StatusPolicyViolation, pe.Code)
			assert.Contains(t, pe.Reason, "fragments")
		})
	}
}

// TestReadFragmentLimitLargeMessage: the largest message the default read
// limit allows, written by our own NextWriter (which fragments every
// 4 KiB), is read whole under the default fragment limit.
func TestReadFragmentLimitLargeMessage(t *testing.T) {
	t.Parallel()
	s, c := tryPair(t, nil, nil, false, 0)
	msg := bytes.Repeat([]byte("0123456789abcdef"), DefaultReadLimit/16)
	written := make(chan error, 1)
	go func() {
		w, err := c.NextWriter(context.Background(), BinaryMessage)
		if err != nil {
			written <- err
			return
		}
		for p := msg; len(p) > 0; p = p[1000:] { // small writes, gathered into 4 KiB fragments
			if _, err := w.Write(p[:min(1000, len(p))]); err != nil {
				written <- err
				return
			}
			if len(p) <= 1000 {
				break
			}
		}
		written <- w.Close()
	}()
	_, got, err := s.ReadMessage(context.Background())
	require.NoError(t, err)
	require.NoError(t, <-written)
	assert.True(t, bytes.Equal(msg, got), "message corrupted")
}
