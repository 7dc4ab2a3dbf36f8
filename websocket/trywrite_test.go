//go:build unix

package websocket

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/rawpeer"
)

func readExpect(t *testing.T, c *Conn, typ MessageType, want []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gotTyp, got, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	assert.Equal(t, typ, gotTyp)
	require.True(t, bytes.Equal(want, got), "got %d bytes %q, want %d bytes %q", len(got), rawpeer.Short(got), len(want), rawpeer.Short(want))
}

func TestTryWriteWholeFrames(t *testing.T) {
	t.Parallel()
	s, c := tryPair(t, nil, nil, false, 0)
	ctx := context.Background()
	for _, n := range []int{0, 1, 125, 126, 4000, 4096, 65535, 65536, 300000} {
		for _, typ := range []MessageType{TextMessage, BinaryMessage} {
			msg := confBinaryOf(n)
			if typ == TextMessage {
				msg = confTextOf(n)
			}
			pm, err := NewPreparedMessage(typ, msg)
			require.NoError(t, err)
			for _, prepared := range []bool{false, true} {
				var pending int
				if prepared {
					pending, err = s.tryWritePrepared(pm)
				} else {
					pending, err = s.tryWriteMessage(typ, msg)
				}
				if err == errWouldBlock { // a large frame on a busy machine
					err = s.WriteMessage(ctx, typ, msg)
				}
				require.NoError(t, err, "%d bytes", n)
				flushed := make(chan error, 1)
				go func() { flushed <- s.flushPending(ctx) }()
				readExpect(t, c, typ, msg)
				require.NoError(t, <-flushed)
				if n <= 4096 {
					assert.Zero(t, pending, "a small frame fits an empty socket buffer")
				}
			}
		}
	}
	require.NoError(t, s.flushPending(ctx), "nothing pending")
	_, err := s.tryWriteMessage(TextMessage, []byte{0xff})
	assert.ErrorIs(t, err, ErrInvalidUTF8)
	_, err = s.tryWriteMessage(MessageType(9), nil)
	assert.Error(t, err)
	readDone := make(chan error, 1)
	go func() { _, _, err := s.ReadMessage(ctx); readDone <- err }()
	require.NoError(t, c.Close(StatusNormalClosure, ""))
	<-readDone
	_, err = s.tryWriteMessage(TextMessage, []byte("late"))
	assert.ErrorIs(t, err, ErrClosed)
}

// TestTryWriteAllocates nothing for a frame the socket takes whole.
func TestTryWriteAllocatesNothing(t *testing.T) {
	s, c := tryPair(t, nil, nil, false, 0)
	msg := confBinaryOf(64)
	const runs = 100 // 6.6 KB: the socket buffers take it all
	allocs := testing.AllocsPerRun(runs, func() {
		if pending, err := s.tryWriteMessage(BinaryMessage, msg); err != nil || pending != 0 {
			t.Fatalf("tryWriteMessage: %d pending, %v", pending, err)
		}
	})
	assert.Zero(t, allocs)
	for range runs + 1 {
		readExpect(t, c, BinaryMessage, msg)
	}
}

// TestTryWritePartialFrameGoesOutFirst fills the socket until the socket
// takes part of a frame, then checks that the rest goes out before a ping
// and a message written afterwards, and that flushPending finishes it.
func TestTryWritePartialFrameGoesOutFirst(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var events []string
	record := func(e string) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	s, c := tryPair(t, nil, &DialOptions{ConnOptions: ConnOptions{
		OnPing: func(p []byte) { record("ping " + string(p)) },
	}}, false, 16384)
	ctx := context.Background()
	msgOf := func(i int) []byte {
		return bytes.Repeat([]byte(fmt.Sprintf("<%d>", i)), 3001)
	}
	var written [][]byte
	pending := 0
	for i := 0; pending == 0; i++ {
		require.Less(t, i, 10000, "the socket never took part of a frame")
		msg := msgOf(i)
		var err error
		pending, err = s.tryWriteMessage(BinaryMessage, msg)
		if err == errWouldBlock {
			// The buffer filled at a frame boundary; make room and retry.
			_, got, err := c.ReadMessage(ctx)
			require.NoError(t, err)
			require.Equal(t, written[0], got)
			written = written[1:]
			time.Sleep(10 * time.Millisecond)
			i--
			continue
		}
		require.NoError(t, err)
		written = append(written, msg)
	}
	t.Logf("message %d of %d bytes went out in part: %d bytes pending", len(written)-1, len(written[0]), pending)

	// Nothing can go out while the client does not read; the pending
	// bytes stay pending and the connection usable.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, s.flushPending(short), context.DeadlineExceeded)

	after := []byte("after the ping")
	wrote := make(chan error, 1)
	go func() {
		if err := s.Ping(ctx, []byte("between")); err != nil {
			wrote <- err
			return
		}
		if err := s.WriteMessage(ctx, TextMessage, after); err != nil {
			wrote <- err
			return
		}
		wrote <- s.flushPending(ctx)
	}()
	for i, want := range written {
		_, got, err := c.ReadMessage(ctx)
		require.NoError(t, err, "message %d", i)
		require.True(t, bytes.Equal(want, got), "message %d: %q", i, rawpeer.Short(got))
		record(fmt.Sprintf("message %d", i))
	}
	readExpect(t, c, TextMessage, after)
	require.NoError(t, <-wrote)
	mu.Lock()
	n := len(events)
	require.GreaterOrEqual(t, n, 2)
	assert.Equal(t, []string{fmt.Sprintf("message %d", len(written)-1), "ping between"}, events[n-2:],
		"the ping follows the frame that was pending")
	mu.Unlock()

	// flushPending alone finishes a pending frame too.
	for pending = 0; pending == 0; {
		var err error
		pending, err = s.tryWriteMessage(BinaryMessage, msgOf(1))
		if err == errWouldBlock {
			_, _, err = c.ReadMessage(ctx)
		}
		require.NoError(t, err)
	}
	flushed := make(chan error, 1)
	go func() { flushed <- s.flushPending(ctx) }()
	read := make(chan error, 1)
	go func() {
		for {
			_, got, err := c.ReadMessage(ctx)
			if err != nil {
				read <- err
				return
			}
			if !bytes.Equal(msgOf(1), got) {
				read <- fmt.Errorf("corrupted message: %q", rawpeer.Short(got))
				return
			}
		}
	}()
	require.NoError(t, <-flushed)
	require.NoError(t, s.Close(StatusNormalClosure, ""))
	assert.ErrorIs(t, <-read, ErrClosed)
}

// TestTryWriteWouldBlock: the cases where TryWrite writes nothing and
// leaves the message to an ordinary write.
func TestTryWriteWouldBlock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	msg := confTextOf(1000)
	pm, err := NewPreparedMessage(TextMessage, msg)
	require.NoError(t, err)
	tryBoth := func(t *testing.T, c *Conn) {
		t.Helper()
		_, err := c.tryWriteMessage(TextMessage, msg)
		assert.ErrorIs(t, err, errWouldBlock)
		_, err = c.tryWritePrepared(pm)
		assert.ErrorIs(t, err, errWouldBlock)
	}

	t.Run("client", func(t *testing.T) {
		_, c := tryPair(t, nil, nil, false, 0)
		tryBoth(t, c)
	})
	t.Run("TLS", func(t *testing.T) {
		s, c := tryPair(t, nil, nil, true, 0)
		tryBoth(t, s)
		require.NoError(t, s.WriteMessage(ctx, TextMessage, msg))
		readExpect(t, c, TextMessage, msg)
	})
	t.Run("compressed", func(t *testing.T) {
		s, c := tryPair(t, &AcceptOptions{Compression: &CompressionOptions{}},
			&DialOptions{Compression: &CompressionOptions{}}, false, 0)
		require.True(t, s.Compressed())
		tryBoth(t, s)
		small := []byte("below the compression threshold")
		pending, err := s.tryWriteMessage(TextMessage, small)
		require.NoError(t, err, "a message that would not be compressed goes out")
		assert.Zero(t, pending)
		readExpect(t, c, TextMessage, small)
		require.NoError(t, s.WriteMessage(ctx, TextMessage, msg))
		readExpect(t, c, TextMessage, msg)
	})
	t.Run("message being streamed", func(t *testing.T) {
		s, c := tryPair(t, nil, nil, false, 0)
		w, err := s.NextWriter(ctx, BinaryMessage)
		require.NoError(t, err)
		_, err = w.Write([]byte("first half, "))
		require.NoError(t, err)
		tryBoth(t, s)
		_, err = w.Write([]byte("second half"))
		require.NoError(t, err)
		require.NoError(t, w.Close())
		readExpect(t, c, BinaryMessage, []byte("first half, second half"))
		pending, err := s.tryWritePrepared(pm)
		require.NoError(t, err)
		assert.Zero(t, pending)
		readExpect(t, c, TextMessage, msg)
	})
}

// TestTryWriteConcurrent mixes tryWriteMessage, blocking writes and pings
// from many goroutines against a slow reader with small buffers: each
// goroutine's messages arrive whole and in order.
func TestTryWriteConcurrent(t *testing.T) {
	t.Parallel()
	const writers, perWriter = 8, 200
	s, c := tryPair(t, nil, nil, false, 32768)
	ctx := context.Background()
	payload := func(g, i int) []byte {
		return append([]byte(fmt.Sprintf("%02d %04d ", g, i)), bytes.Repeat([]byte{byte('a' + g)}, (i*997+g*131)%3000)...)
	}
	var wg sync.WaitGroup
	var partial, inline, fallback sync.Map
	errs := make(chan error, writers)
	for g := range writers {
		wg.Go(func() {
			for i := range perWriter {
				msg := payload(g, i)
				var err error
				if i%2 == 0 {
					var pm *PreparedMessage
					pm, err = NewPreparedMessage(BinaryMessage, msg)
					if err == nil {
						var pending int
						pending, err = s.tryWritePrepared(pm)
						if err == errWouldBlock {
							fallback.Store(g*perWriter+i, true)
							err = s.WritePrepared(ctx, pm)
						} else if pending > 0 {
							partial.Store(g*perWriter+i, true)
						} else {
							inline.Store(g*perWriter+i, true)
						}
					}
				} else {
					var pending int
					pending, err = s.tryWriteMessage(BinaryMessage, msg)
					if err == errWouldBlock {
						fallback.Store(g*perWriter+i, true)
						err = s.WriteMessage(ctx, BinaryMessage, msg)
					} else if pending > 0 {
						partial.Store(g*perWriter+i, true)
					} else {
						inline.Store(g*perWriter+i, true)
					}
				}
				if err == nil && i%50 == 0 {
					err = s.Ping(ctx, []byte{byte(g)})
				}
				if i%4 == 0 {
					time.Sleep(20 * time.Microsecond) // let the others at the socket
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	flushed := make(chan error, 1)
	go func() {
		wg.Wait()
		flushed <- s.flushPending(ctx) // the last writer's frame may be pending
	}()
	next := make([]int, writers)
	for n := range writers * perWriter {
		_, b, err := c.ReadMessage(ctx)
		require.NoError(t, err, "message %d", n)
		var g, i int
		_, err = fmt.Sscanf(string(b[:8]), "%02d %04d", &g, &i)
		require.NoError(t, err, "message %d: %q", n, rawpeer.Short(b))
		require.Equal(t, next[g], i, "writer %d out of order", g)
		next[g]++
		require.True(t, bytes.Equal(payload(g, i), b), "message %d/%d corrupted", g, i)
		if n%64 == 0 {
			time.Sleep(time.Millisecond) // a slow reader
		}
	}
	require.NoError(t, <-flushed)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	count := func(m *sync.Map) (n int) {
		m.Range(func(any, any) bool { n++; return true })
		return n
	}
	t.Logf("written whole at once: %d, in part: %d, the ordinary way: %d", count(&inline), count(&partial), count(&fallback))
	readDone := make(chan error, 1)
	go func() {
		_, _, err := s.ReadMessage(ctx) // answers the close
		readDone <- err
	}()
	require.NoError(t, c.Close(StatusNormalClosure, ""))
	<-readDone
}

// TestTryWritePendingFrameBeforeClose: Close and Abort, which write their
// close frame by a path of their own, finish a pending frame first, and
// Abort still gives up within its bound when the peer reads nothing.
func TestTryWritePendingFrameBeforeClose(t *testing.T) {
	t.Parallel()
	msg := bytes.Repeat([]byte("0123456789"), 1000)
	fill := func(t *testing.T, s *Conn) int {
		sent := 0
		for pending := 0; pending == 0; sent++ {
			var err error
			pending, err = s.tryWriteMessage(BinaryMessage, msg)
			require.NoError(t, err, "message %d", sent)
		}
		return sent
	}
	for _, abort := range []bool{false, true} {
		t.Run(fmt.Sprintf("abort=%v", abort), func(t *testing.T) {
			s, c := tryPair(t, nil, nil, false, 16384)
			ctx := context.Background()
			sent := fill(t, s)
			closed := make(chan error, 1)
			go func() {
				if abort {
					closed <- s.abort(StatusPolicyViolation, "bye")
				} else {
					closed <- s.Close(StatusGoingAway, "bye")
				}
			}()
			time.Sleep(20 * time.Millisecond) // Close is waiting for the socket
			for i := range sent {
				_, got, err := c.ReadMessage(ctx)
				require.NoError(t, err, "message %d", i)
				require.True(t, bytes.Equal(msg, got), "message %d corrupted: %q", i, rawpeer.Short(got))
			}
			_, _, err := c.ReadMessage(ctx)
			var ce *CloseError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "bye", ce.Reason)
			<-closed
		})
	}
	t.Run("peer reads nothing", func(t *testing.T) {
		s, _ := tryPair(t, nil, nil, false, 16384)
		fill(t, s)
		start := time.Now()
		require.NoError(t, s.abort(StatusPolicyViolation, "bye"))
		assert.Less(t, time.Since(start), 3*failWriteTimeout)
		<-s.Done()
	})
}
