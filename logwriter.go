package tornago

import (
	"errors"
	"io"
	"sync"
	"time"
)

// BufferedLogWriter gathers a log's records (the access log's lines, one
// per request) and writes them to the underlying writer together: when
// the buffer would overflow, and flushEvery after the first record it
// holds, as nginx's access_log buffer= and flush= do. An access line per
// request written at once is a write system call per request (and, to a
// pipe, often a wake-up of the process reading it); a batch is one system
// call for many lines.
//
// Each Write is kept whole: a record is never split between two writes to
// the underlying writer, so the records of a handler that writes each with
// one Write (slog's TextHandler and JSONHandler do) stay lines. What a
// crash loses is at most flushEvery of records: call Close (or Flush) on
// every way out of the program.
//
// A BufferedLogWriter is safe for concurrent use.
type BufferedLogWriter struct {
	w          io.Writer
	size       int
	flushEvery time.Duration
	timer      *time.Timer // armed while buf holds records

	mu     sync.Mutex
	buf    []byte
	err    error // the first error of the underlying writer, from a flush by the timer
	closed bool
}

// NewBufferedLogWriter returns a writer that gathers up to size bytes of
// records and writes them to w when they would overflow, flushEvery after
// the first of them, and on Flush and Close. A record larger than size
// goes to w at once, after what is gathered.
func NewBufferedLogWriter(w io.Writer, size int, flushEvery time.Duration) (*BufferedLogWriter, error) {
	if w == nil {
		return nil, errors.New("tornago: NewBufferedLogWriter needs a writer (got nil)")
	}
	if size <= 0 || flushEvery <= 0 {
		return nil, errors.New("tornago: NewBufferedLogWriter needs a size and a flush interval above 0 (for records written at once, log to the writer itself)")
	}
	b := &BufferedLogWriter{w: w, size: size, flushEvery: flushEvery}
	b.timer = time.AfterFunc(time.Hour, b.flushOnTimer)
	b.timer.Stop()
	return b, nil
}

// Write gathers p, one record, or writes it through after a Close. When
// p does not fit, what is gathered is written first; if that fails, Write
// returns the error and p is not taken. An error the underlying writer
// gave a flush by the timer, which no caller saw, is returned by the next
// Write (with p gathered all the same).
func (b *BufferedLogWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	if len(b.buf)+len(p) > b.size {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > b.size {
			return b.w.Write(p)
		}
	}
	if len(b.buf) == 0 {
		if b.buf == nil {
			b.buf = make([]byte, 0, b.size)
		}
		b.timer.Reset(b.flushEvery)
	}
	b.buf = append(b.buf, p...)
	err := b.err
	b.err = nil
	return len(p), err
}

// Flush writes what is gathered to the underlying writer now.
func (b *BufferedLogWriter) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

// Close flushes what is gathered; writes after it go to the underlying
// writer at once. It does not close the underlying writer.
func (b *BufferedLogWriter) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	err := b.flushLocked()
	b.buf = nil
	return err
}

// flushOnTimer is the timer's flush; an error waits for the next Write.
func (b *BufferedLogWriter) flushOnTimer() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.flushLocked(); err != nil && b.err == nil {
		b.err = err
	}
}

func (b *BufferedLogWriter) flushLocked() error {
	b.timer.Stop()
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}
