package interop

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/websocket"
)

// TestInteropFragmentedWrite writes messages through our NextWriter, one
// frame per Write, and has the foreign peer reassemble them: fragments of
// every length encoding, an empty fragment, a UTF-8 rune split across two
// fragments, and a hundred one-byte fragments.
func TestInteropFragmentedWrite(t *testing.T) {
	t.Parallel()
	messages := []struct {
		name      string
		typ       websocket.MessageType
		fragments [][]byte
	}{
		{"text with a split rune", websocket.TextMessage, [][]byte{
			[]byte("fragmented "), []byte("h\xc3"), []byte("\xa9llo "), textPayload(70000), {}, []byte("€nd"),
		}},
		{"binary of every length encoding", websocket.BinaryMessage, [][]byte{
			binaryPayload(1), binaryPayload(125), binaryPayload(126), binaryPayload(65535), binaryPayload(65536), {},
		}},
		{"a hundred one-byte fragments", websocket.TextMessage, bytes.SplitAfter(bytes.Repeat([]byte{'f'}, 100), []byte("f"))},
		{"only an empty final fragment", websocket.BinaryMessage, nil},
	}
	for _, k := range allPairs() {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			ours, peer := connect(t, ctx, k, pairConfig{ours: websocket.ConnOptions{CloseTimeout: closeTimeout}})
			for _, m := range messages {
				w, err := ours.NextWriter(ctx, m.typ)
				require.NoError(t, err, "NextWriter for %s", m.name)
				var want []byte
				for i, f := range m.fragments {
					n, err := w.Write(f)
					require.NoError(t, err, "%s: fragment %d", m.name, i)
					require.Equal(t, len(f), n, "%s: fragment %d", m.name, i)
					want = append(want, f...)
				}
				require.NoError(t, w.Close(), "closing the writer for %s", m.name)

				typ, got, err := peer.Read(ctx)
				require.NoError(t, err, "%s reading %s", k.lib.name, m.name)
				assert.Equal(t, m.typ, typ, m.name)
				requireSameBytes(t, want, got, m.name)
			}

			// Whole messages still frame correctly after fragmented ones.
			require.NoError(t, ours.WriteMessage(ctx, websocket.TextMessage, []byte("next")))
			_, got, err := peer.Read(ctx)
			require.NoError(t, err)
			assert.Equal(t, "next", string(got))

			closeFromOurs(t, ctx, ours, peer, 1000, "")
		})
	}
}

// TestInteropConcurrentWriters has 8 goroutines on our server write 200
// messages each at once, through WriteMessage, while the gorilla client
// reads: every message must arrive whole, unmixed with another, and each
// writer's messages in the order it wrote them.
func TestInteropConcurrentWriters(t *testing.T) {
	t.Parallel()
	const writers, perWriter = 8, 200
	ctx := testContext(t)
	ours, peer := connect(t, ctx, pairKind{role: ourServer, lib: libraries[0]}, pairConfig{
		ours: websocket.ConnOptions{CloseTimeout: closeTimeout},
	})
	require.Equal(t, "gorilla", libraries[0].name)

	// message i of writer w: "w<w>-<i>|" then a padding of up to 3000
	// copies of one letter, so that a torn or interleaved frame shows.
	message := func(w, i int) []byte {
		head := fmt.Sprintf("w%d-%d|", w, i)
		pad := (w*131 + i*17) % 3000
		return append([]byte(head), bytes.Repeat([]byte{byte('a' + w)}, pad)...)
	}

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			typ := websocket.TextMessage
			if w%2 == 1 {
				typ = websocket.BinaryMessage
			}
			for i := range perWriter {
				if err := ours.WriteMessage(ctx, typ, message(w, i)); err != nil {
					errs <- fmt.Errorf("writer %d, message %d: %w", w, i, err)
					return
				}
			}
		})
	}

	next := make([]int, writers) // next expected message index per writer
	for n := range writers * perWriter {
		typ, p, err := peer.Read(ctx)
		require.NoError(t, err, "gorilla read %d", n)
		head, _, ok := strings.Cut(string(p[:min(len(p), 16)]), "|")
		require.True(t, ok, "message %d has no header: %q", n, p[:min(len(p), 16)])
		ws, is, ok := strings.Cut(strings.TrimPrefix(head, "w"), "-")
		require.True(t, ok, "message %d header %q", n, head)
		w, err1 := strconv.Atoi(ws)
		i, err2 := strconv.Atoi(is)
		require.NoError(t, err1)
		require.NoError(t, err2)
		require.True(t, w >= 0 && w < writers, "writer %d", w)
		require.Equal(t, next[w], i, "writer %d's messages out of order", w)
		wantTyp := websocket.TextMessage
		if w%2 == 1 {
			wantTyp = websocket.BinaryMessage
		}
		require.Equal(t, wantTyp, typ, "type of w%d-%d", w, i)
		requireSameBytes(t, message(w, i), p, head)
		next[w]++
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w, n := range next {
		assert.Equal(t, perWriter, n, "messages from writer %d", w)
	}

	closeFromOurs(t, ctx, ours, peer, 1000, "")
}
