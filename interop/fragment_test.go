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

// dataFrames checks that frames (control frames left out) form one
// message of type typ and total bytes: the first frame has the type's
// opcode, the rest are continuations, and only the last has FIN. It
// returns the message offsets at which fragments start, after the first.
func dataFrames(t *testing.T, frames []tapFrame, typ websocket.MessageType, total int) []int {
	t.Helper()
	var data []tapFrame
	for _, f := range frames {
		if f.opcode < 8 {
			data = append(data, f)
		}
	}
	require.NotEmpty(t, data, "no data frames written")
	var boundaries []int
	sum := 0
	for i, f := range data {
		wantOp := byte(0)
		if i == 0 {
			wantOp = byte(typ)
		}
		require.Equal(t, wantOp, f.opcode, "opcode of fragment %d", i)
		require.Equal(t, i == len(data)-1, f.fin, "FIN of fragment %d of %d", i, len(data))
		if i > 0 {
			boundaries = append(boundaries, sum)
		}
		sum += int(f.length)
	}
	require.Equal(t, total, sum, "bytes in the fragments")
	return boundaries
}

// TestInteropFragmentedWrite streams messages through our NextWriter and
// has the foreign peer reassemble them. A tap on our TCP connection checks
// that they really went out in several frames: large writes go out as
// frames of their own, so the first message splits a two-byte rune between
// two frames, and the second has fragments with every length encoding.
func TestInteropFragmentedWrite(t *testing.T) {
	t.Parallel()
	splitA := append(textPayload(70000), "h\xc3"...)
	splitB := append([]byte("\xa9llo "), textPayload(70000)...)
	messages := []struct {
		name      string
		typ       websocket.MessageType
		writes    [][]byte
		minFrames int
		splitAt   int // a fragment must start here (0: no check)
	}{
		{"text with a rune split between frames", websocket.TextMessage,
			[][]byte{splitA, splitB, []byte("€nd")}, 3, len(splitA)},
		{"binary with 64-, 16- and 7-bit fragment lengths", websocket.BinaryMessage,
			[][]byte{binaryPayload(65536), binaryPayload(65535), {}, binaryPayload(125)}, 3, 0},
		{"a hundred one-byte writes", websocket.TextMessage,
			bytes.SplitAfter(bytes.Repeat([]byte{'f'}, 100), []byte("f")), 1, 0},
		{"no writes: one empty final frame", websocket.BinaryMessage, nil, 1, 0},
	}
	for _, k := range allPairs() {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			ours, peer, tap := connectTapped(t, ctx, k, pairConfig{ours: websocket.ConnOptions{CloseTimeout: closeTimeout}})
			for _, m := range messages {
				w, err := ours.NextWriter(ctx, m.typ)
				require.NoError(t, err, "NextWriter for %s", m.name)
				var want []byte
				for i, p := range m.writes {
					n, err := w.Write(p)
					require.NoError(t, err, "%s: write %d", m.name, i)
					require.Equal(t, len(p), n, "%s: write %d", m.name, i)
					want = append(want, p...)
				}
				require.NoError(t, w.Close(), "closing the writer for %s", m.name)

				typ, got, err := peer.Read(ctx)
				require.NoError(t, err, "%s reading %s", k.lib.name, m.name)
				assert.Equal(t, m.typ, typ, m.name)
				requireSameBytes(t, want, got, m.name)

				boundaries := dataFrames(t, tap.take(), m.typ, len(want))
				t.Logf("%s: fragments start at %v", m.name, boundaries)
				assert.GreaterOrEqual(t, len(boundaries)+1, m.minFrames, "frames for %s", m.name)
				if m.splitAt != 0 {
					assert.Contains(t, boundaries, m.splitAt, "%s: no fragment starts inside the rune", m.name)
				}
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
// messages each at once while the gorilla client reads: every message must
// arrive whole, unmixed with another, and each writer's messages in the
// order it wrote them. The first case uses WriteMessage only; the second
// mixes in NextWriter (three writes a message), WritePrepared and a
// goroutine sending pings, which may go out between fragments.
func TestInteropConcurrentWriters(t *testing.T) {
	t.Parallel()
	t.Run("WriteMessage", func(t *testing.T) {
		t.Parallel()
		testConcurrentWriters(t, false)
	})
	t.Run("mixed with NextWriter, WritePrepared and Ping", func(t *testing.T) {
		t.Parallel()
		testConcurrentWriters(t, true)
	})
}

func testConcurrentWriters(t *testing.T, mixed bool) {
	const writers, perWriter = 8, 200
	ctx := testContext(t)
	require.Equal(t, "gorilla", libraries[0].name)
	ours, peer := connect(t, ctx, pairKind{role: ourServer, lib: libraries[0]}, pairConfig{
		ours: websocket.ConnOptions{CloseTimeout: closeTimeout},
	})

	// message i of writer w: "w<w>-<i>|" then a padding of up to 3000
	// copies of one letter, so that a torn or interleaved frame shows.
	message := func(w, i int) []byte {
		head := fmt.Sprintf("w%d-%d|", w, i)
		pad := (w*131 + i*17) % 3000
		return append([]byte(head), bytes.Repeat([]byte{byte('a' + w)}, pad)...)
	}
	msgType := func(w int) websocket.MessageType {
		if w%2 == 1 {
			return websocket.BinaryMessage
		}
		return websocket.TextMessage
	}
	send := func(w, i int) error {
		typ, p := msgType(w), message(w, i)
		switch {
		case mixed && w%4 == 2:
			mw, err := ours.NextWriter(ctx, typ)
			if err != nil {
				return err
			}
			third := len(p) / 3
			for _, part := range [][]byte{p[:third], p[third : 2*third], p[2*third:]} {
				if _, err := mw.Write(part); err != nil {
					return err
				}
			}
			return mw.Close()
		case mixed && w%4 == 3:
			pm, err := websocket.NewPreparedMessage(typ, p)
			if err != nil {
				return err
			}
			return ours.WritePrepared(ctx, pm)
		}
		return ours.WriteMessage(ctx, typ, p)
	}

	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if err := send(w, i); err != nil {
					errs <- fmt.Errorf("writer %d, message %d: %w", w, i, err)
					return
				}
			}
		})
	}
	if mixed {
		wg.Go(func() {
			for i := range perWriter {
				if err := ours.Ping(ctx, []byte(strconv.Itoa(i))); err != nil {
					errs <- fmt.Errorf("ping %d: %w", i, err)
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
		require.Equal(t, msgType(w), typ, "type of w%d-%d", w, i)
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
