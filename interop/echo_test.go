package interop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/websocket"
)

// requireSameBytes compares payloads without dumping a megabyte on failure.
func requireSameBytes(t *testing.T, want, got []byte, what string) {
	t.Helper()
	if bytes.Equal(want, got) {
		return
	}
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	t.Fatalf("%s: got %d bytes, want %d; first difference at offset %d", what, len(got), len(want), i)
}

// TestInteropEcho sends text and binary messages of every size in
// messageSizes through each pair: the client end writes and the server end
// echoes with the same type, whichever library plays which role. Each echo
// must come back intact, then the client closes with 1000.
func TestInteropEcho(t *testing.T) {
	t.Parallel()
	for _, k := range allPairs() {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			ours, peer := connect(t, ctx, k, pairConfig{})

			// The client end drives; the server end echoes.
			var (
				send   func(websocket.MessageType, []byte) error
				recv   func() (websocket.MessageType, []byte, error)
				echoed <-chan error
			)
			if k.role == ourServer {
				echoed = async(func() error { return echoOurs(ctx, ours) })
				send = func(typ websocket.MessageType, p []byte) error { return peer.Write(ctx, typ, p) }
				recv = func() (websocket.MessageType, []byte, error) { return peer.Read(ctx) }
			} else {
				echoed = async(func() error {
					defer peer.CloseNow()
					return echoPeer(ctx, peer)
				})
				send = func(typ websocket.MessageType, p []byte) error { return ours.WriteMessage(ctx, typ, p) }
				recv = func() (websocket.MessageType, []byte, error) { return ours.ReadMessage(ctx) }
			}

			for _, typ := range []websocket.MessageType{websocket.TextMessage, websocket.BinaryMessage} {
				for _, n := range messageSizes {
					what := fmt.Sprintf("%s message of %d bytes", typ, n)
					want := payload(typ, n)
					require.NoError(t, send(typ, want), "send %s", what)
					gotTyp, got, err := recv()
					require.NoError(t, err, "receive echo of %s", what)
					require.Equal(t, typ, gotTyp, "type of echoed %s", what)
					requireSameBytes(t, want, got, "echo of "+what)
				}
			}

			// Close from the client end with 1000.
			if k.role == ourServer {
				require.NoError(t, peer.Close(ctx, 1000, "done"))
				err := wait(t, ctx, echoed, "our echo loop")
				var ce *websocket.CloseError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, &websocket.CloseError{Code: 1000, Reason: "done"}, ce)
			} else {
				require.NoError(t, ours.Close(1000, "done"))
				err := wait(t, ctx, echoed, "peer echo loop")
				code, reason, ok := peer.CloseStatus(err)
				require.True(t, ok, "peer echo loop ended with %v", err)
				assert.Equal(t, 1000, code)
				assert.Equal(t, "done", reason)
			}
		})
	}
}

// chunkReader reads r in reads of at most size bytes, checking that no read
// returns more than asked, and returns the total length and SHA-256.
func chunkReader(r io.Reader, size int) (int, [32]byte, error) {
	h := sha256.New()
	buf := make([]byte, size)
	total := 0
	for {
		n, err := r.Read(buf)
		if n < 0 || n > len(buf) {
			return total, [32]byte{}, fmt.Errorf("Read returned n=%d for a %d-byte buffer", n, len(buf))
		}
		h.Write(buf[:n])
		total += n
		if err == io.EOF {
			return total, [32]byte(h.Sum(nil)), nil
		}
		if err != nil {
			return total, [32]byte{}, err
		}
	}
}

// TestInteropStreamRead has each foreign peer send 1 MiB messages in one
// frame (coder writes one frame per Write, gorilla's server fast path does
// too, and gorilla's client does with a write buffer larger than the
// message) and reads them on our side through NextReader in odd-sized
// chunks that split frames' masking words and UTF-8 runes.
func TestInteropStreamRead(t *testing.T) {
	t.Parallel()
	for _, k := range allPairs() {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			ours, peer := connect(t, ctx, k, pairConfig{
				peerWriteBuffer: 1<<20 + 1024,
				ours:            websocket.ConnOptions{CloseTimeout: closeTimeout},
			})

			for _, typ := range []websocket.MessageType{websocket.BinaryMessage, websocket.TextMessage} {
				want := payload(typ, 1<<20)
				sent := async(func() error { return peer.Write(ctx, typ, want) })
				gotTyp, r, err := ours.NextReader(ctx)
				require.NoError(t, err, "NextReader for %s", typ)
				assert.Equal(t, typ, gotTyp)
				n, sum, err := chunkReader(r, 1000)
				require.NoError(t, err, "reading the %s stream", typ)
				assert.Equal(t, len(want), n, "length of the %s stream", typ)
				assert.Equal(t, sha256.Sum256(want), sum, "SHA-256 of the %s stream", typ)
				require.NoError(t, wait(t, ctx, sent, "peer write"))
			}

			// The stream left the connection in step: a small message reads
			// back whole after it.
			require.NoError(t, peer.Write(ctx, websocket.TextMessage, []byte("after")))
			typ, p, err := ours.ReadMessage(ctx)
			require.NoError(t, err)
			assert.Equal(t, websocket.TextMessage, typ)
			assert.Equal(t, "after", string(p))

			closeFromOurs(t, ctx, ours, peer, 1000, "")
		})
	}
}

// TestInteropWritePrepared sends prepared messages (the frame encoded
// once, for broadcasts) to each foreign peer, which must read them as
// ordinary messages; a client masks each send afresh.
func TestInteropWritePrepared(t *testing.T) {
	t.Parallel()
	for _, k := range allPairs() {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			ours, peer := connect(t, ctx, k, pairConfig{ours: websocket.ConnOptions{CloseTimeout: closeTimeout}})
			for _, typ := range []websocket.MessageType{websocket.TextMessage, websocket.BinaryMessage} {
				for _, n := range []int{0, 125, 126, 65536} {
					want := payload(typ, n)
					pm, err := websocket.NewPreparedMessage(typ, want)
					require.NoError(t, err)
					for i := range 2 { // the same prepared message twice
						require.NoError(t, ours.WritePrepared(ctx, pm), "%s %d bytes, send %d", typ, n, i)
						gotTyp, got, err := peer.Read(ctx)
						require.NoError(t, err)
						assert.Equal(t, typ, gotTyp)
						requireSameBytes(t, want, got, fmt.Sprintf("prepared %s of %d bytes, send %d", typ, n, i))
					}
				}
			}
			closeFromOurs(t, ctx, ours, peer, 1000, "")
		})
	}
}

// TestInteropReadResumesAfterContext interrupts our ReadMessage with a
// context deadline while a foreign peer is halfway through a fragmented
// message: the error must be the context's, and the next ReadMessage must
// return the whole message once the peer finishes it.
func TestInteropReadResumesAfterContext(t *testing.T) {
	t.Parallel()
	for _, k := range allPairs() {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			ours, peer := connect(t, ctx, k, pairConfig{ours: websocket.ConnOptions{CloseTimeout: closeTimeout}})
			first, second := textPayload(20000), textPayload(10000)
			w, err := peer.NextWriter(ctx, websocket.TextMessage)
			require.NoError(t, err)
			_, err = w.Write(first) // gorilla sends 4 frames, coder 1
			require.NoError(t, err)

			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			_, _, err = ours.ReadMessage(short)
			cancel()
			require.ErrorIs(t, err, context.DeadlineExceeded, "ReadMessage with the message half sent")

			_, err = w.Write(second)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			typ, got, err := ours.ReadMessage(ctx)
			require.NoError(t, err, "ReadMessage after the interrupted one")
			assert.Equal(t, websocket.TextMessage, typ)
			requireSameBytes(t, append(first, second...), got, "resumed message")

			// And the connection is still in step.
			require.NoError(t, peer.Write(ctx, websocket.BinaryMessage, []byte{7}))
			_, got, err = ours.ReadMessage(ctx)
			require.NoError(t, err)
			assert.Equal(t, []byte{7}, got)
			closeFromOurs(t, ctx, ours, peer, 1000, "")
		})
	}
}
