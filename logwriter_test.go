package tornago_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

// writes records each Write call it gets; fail makes them fail.
type writes struct {
	mu    sync.Mutex
	calls []string
	fail  error
	wrote chan struct{} // a value per call
}

func newWrites() *writes { return &writes{wrote: make(chan struct{}, 1024)} }

func (w *writes) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	defer func() { w.wrote <- struct{}{} }()
	if w.fail != nil {
		return 0, w.fail
	}
	w.calls = append(w.calls, string(p))
	return len(p), nil
}

func (w *writes) got() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.calls...)
}

// never is a flush interval no test outlives.
const never = time.Hour

func TestBufferedLogWriterGathersUntilFull(t *testing.T) {
	w := newWrites()
	b, err := tornago.NewBufferedLogWriter(w, 25, never)
	require.NoError(t, err)
	for _, rec := range []string{"aaaaaaaaa\n", "bbbbbbbbb\n"} {
		n, err := b.Write([]byte(rec))
		require.NoError(t, err)
		require.Equal(t, len(rec), n)
	}
	assert.Empty(t, w.got(), "20 of 25 bytes gathered: nothing written yet")

	_, err = b.Write([]byte("ccccccccc\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"aaaaaaaaa\nbbbbbbbbb\n"}, w.got(), "a record that would overflow flushes the others first, in one write")

	_, err = b.Write([]byte(strings.Repeat("d", 30) + "\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"aaaaaaaaa\nbbbbbbbbb\n", "ccccccccc\n", strings.Repeat("d", 30) + "\n"}, w.got(),
		"a record larger than the buffer goes through whole, after what was gathered")

	_, err = b.Write([]byte("e\n"))
	require.NoError(t, err)
	require.NoError(t, b.Flush())
	require.NoError(t, b.Flush(), "a flush with nothing gathered")
	assert.Equal(t, "e\n", w.got()[3])
	assert.Len(t, w.got(), 4, "the empty flush writes nothing")
}

func TestBufferedLogWriterFlushesOnTime(t *testing.T) {
	w := newWrites()
	b, err := tornago.NewBufferedLogWriter(w, 1<<16, 10*time.Millisecond)
	require.NoError(t, err)
	defer b.Close()
	for round := range 2 {
		_, err = b.Write([]byte("one\n"))
		require.NoError(t, err)
		_, err = b.Write([]byte("two\n"))
		require.NoError(t, err)
		select {
		case <-w.wrote:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: nothing written 10 s after a record was gathered with a 10 ms flush interval", round)
		}
		assert.Equal(t, "one\ntwo\n", w.got()[round], "round %d: the gathered records in one write", round)
	}
}

func TestBufferedLogWriterClose(t *testing.T) {
	w := newWrites()
	b, err := tornago.NewBufferedLogWriter(w, 1<<16, never)
	require.NoError(t, err)
	_, err = b.Write([]byte("gathered\n"))
	require.NoError(t, err)
	require.NoError(t, b.Close())
	assert.Equal(t, []string{"gathered\n"}, w.got(), "Close flushes")
	_, err = b.Write([]byte("after\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"gathered\n", "after\n"}, w.got(), "after Close a record is written at once")
}

func TestBufferedLogWriterErrors(t *testing.T) {
	boom := errors.New("disk full")

	t.Run("Flush returns the writer's error", func(t *testing.T) {
		w := newWrites()
		w.fail = boom
		b, err := tornago.NewBufferedLogWriter(w, 1<<16, never)
		require.NoError(t, err)
		_, err = b.Write([]byte("x\n"))
		require.NoError(t, err)
		require.ErrorIs(t, b.Flush(), boom)
	})

	t.Run("a timer flush's error comes with the next Write", func(t *testing.T) {
		w := newWrites()
		w.fail = boom
		b, err := tornago.NewBufferedLogWriter(w, 1<<16, time.Millisecond)
		require.NoError(t, err)
		_, err = b.Write([]byte("lost\n"))
		require.NoError(t, err)
		select {
		case <-w.wrote:
		case <-time.After(10 * time.Second):
			t.Fatal("the timer did not flush")
		}
		w.mu.Lock()
		w.fail = nil
		w.mu.Unlock()
		n, err := b.Write([]byte("next\n"))
		require.ErrorIs(t, err, boom)
		require.Equal(t, 5, n, "the record is gathered all the same")
		_, err = b.Write([]byte("then\n"))
		require.NoError(t, err, "the error is reported once")
		require.NoError(t, b.Close())
		assert.Equal(t, []string{"next\nthen\n"}, w.got())
	})

	t.Run("bad arguments", func(t *testing.T) {
		for _, c := range []struct {
			w     *writes
			size  int
			every time.Duration
		}{{nil, 1, time.Second}, {newWrites(), 0, time.Second}, {newWrites(), 1, 0}} {
			var w interface{ Write([]byte) (int, error) }
			if c.w != nil {
				w = c.w
			}
			_, err := tornago.NewBufferedLogWriter(w, c.size, c.every)
			assert.Error(t, err, "size %d, every %v, writer %v", c.size, c.every, c.w != nil)
		}
	})
}

// TestBufferedLogWriterKeepsRecordsWhole logs from many goroutines
// through slog's TextHandler into a small buffer: every line arrives, and
// every write to the file ends at a line's end.
func TestBufferedLogWriterKeepsRecordsWhole(t *testing.T) {
	w := newWrites()
	b, err := tornago.NewBufferedLogWriter(w, 512, time.Millisecond)
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(b, nil))
	const goroutines, records = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range records {
				log.Info("200 GET /echo (127.0.0.1) 0.10ms", "g", g, "i", i)
			}
		})
	}
	wg.Wait()
	require.NoError(t, b.Close())
	seen := map[string]bool{}
	for _, call := range w.got() {
		require.True(t, strings.HasSuffix(call, "\n"), "a write ends inside a record: %q", call)
		for line := range strings.Lines(call) {
			seen[line[strings.Index(line, " g="):]] = true
		}
	}
	assert.Len(t, seen, goroutines*records, "every record arrives once")
}

// A server's access log, gathered and written every 100 ms (or 64 KiB)
// instead of once per request; Close on the way out writes the rest.
func ExampleNewBufferedLogWriter() {
	out, err := tornago.NewBufferedLogWriter(os.Stdout, 64<<10, 100*time.Millisecond)
	if err != nil {
		panic(err)
	}
	defer out.Close()
	app, err := tornago.NewApplication(nil, tornago.Settings{
		Logger: slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey { // left out to keep the output fixed
					return slog.Attr{}
				}
				return a
			},
		})),
	})
	if err != nil {
		panic(err)
	}
	app.Logger().Info("serving")
	fmt.Println("the record is gathered: this line, written after it, comes first")
	if err := out.Flush(); err != nil {
		panic(err)
	}
	// Output:
	// the record is gathered: this line, written after it, comes first
	// level=INFO msg=serving
}
