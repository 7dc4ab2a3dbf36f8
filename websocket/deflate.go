package websocket

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// The compression of permessage-deflate (RFC 7692 section 7.2): every
// message is a run of DEFLATE blocks ended by a sync flush, whose empty
// stored block (00 00 ff ff) the sender strips and the receiver puts
// back.
//
// klauspost/compress/flate is used rather than compress/flate: it
// compresses two to six times faster at the same ratio, inflates faster,
// compresses with any window from 256 bytes to 32 KiB (so every
// server_max_window_bits and client_max_window_bits can be honoured), and
// compresses without any state (StatelessDeflate), which makes the common
// no-context-takeover case cost no memory between messages.

// errCorruptDeflate is wrapped by the error an inflater returns for a
// message that is not valid DEFLATE data; the connection fails with 1007.
var errCorruptDeflate = errors.New("websocket: invalid compressed message")

// deflateTail is the empty stored block that ends a flushed message.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// inflateEnd is what the inflater appends to each message: the stripped
// tail, then an empty final stored block, so that the decompressor
// reports io.EOF where the message ends.
var inflateEnd = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// inflateReadSize is the read-ahead of the decompressor's input, in
// compressed bytes.
const inflateReadSize = 4096

// inflateState is what decompressing a message needs and what an idle
// connection need not keep: the decompressor (about 40 KiB, most of it
// its 32 KiB window) and its input buffer. It is pooled.
type inflateState struct {
	fr  io.ReadCloser // a flate reader, also a flate.Resetter
	br  *bufio.Reader // reads src
	src messageSource
}

var inflatePool = sync.Pool{New: func() any {
	st := &inflateState{}
	st.br = bufio.NewReaderSize(&st.src, inflateReadSize)
	st.fr = flate.NewReader(st.br)
	return st
}}

// messageSource yields a message's compressed payload and then
// inflateEnd. It remembers an error from the payload reader, so that an
// I/O error is told apart from corrupt data.
type messageSource struct {
	r    io.Reader
	tail []byte
	err  error
}

func (s *messageSource) Read(p []byte) (int, error) {
	if s.r != nil {
		n, err := s.r.Read(p)
		switch {
		case err == io.EOF:
			s.r = nil
		case err != nil:
			s.err = err
			return n, err
		}
		if n > 0 || s.r != nil {
			return n, nil
		}
	}
	if len(s.tail) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.tail)
	s.tail = s.tail[n:]
	return n, nil
}

// inflater decompresses the messages of one direction of a connection.
// With context takeover it keeps the last window of output between
// messages, up to 2^windowBits bytes, and nothing else; the decompressor
// itself is taken from a pool for each message. Without context takeover
// it keeps nothing between messages.
//
// It never decompresses more than its reader asks for: a message that
// inflates to gigabytes costs only what is read of it, so a caller that
// reads through a limit stops a decompression bomb at the limit.
type inflater struct {
	windowBits int
	takeover   bool
	st         *inflateState // during a message
	eof        bool          // the current message has ended
	err        error         // sticky: the stream is unusable

	// hist holds the last output (context takeover). It grows to
	// 2^windowBits bytes and then becomes a ring whose oldest byte is at
	// pos.
	hist []byte
	pos  int
}

// newInflater returns an inflater for messages compressed with a window
// of 2^windowBits bytes (8 to 15).
func newInflater(windowBits int, contextTakeover bool) *inflater {
	return &inflater{windowBits: normWindowBits(windowBits), takeover: contextTakeover}
}

// errInflateNotStarted is returned by Read outside a message.
var errInflateNotStarted = errors.New("websocket: inflater read outside a message")

// start begins a message whose compressed payload (all its frames,
// unmasked, without the stripped 00 00 ff ff tail) src yields; io.EOF
// from src ends the payload.
func (f *inflater) start(src io.Reader) {
	if f.st != nil {
		f.putState()
	}
	st := inflatePool.Get().(*inflateState)
	st.src = messageSource{r: src, tail: inflateEnd}
	st.br.Reset(&st.src)
	var dict []byte
	if f.takeover {
		dict = f.window()
	}
	st.fr.(flate.Resetter).Reset(st.br, dict)
	f.st = st
	f.eof = false
}

// Read returns decompressed bytes of the message, and io.EOF at its end.
// Corrupt data gives an error wrapping errCorruptDeflate; an error from
// the payload reader is returned as it is. Either error is final: the
// message cannot be resumed.
func (f *inflater) Read(p []byte) (int, error) {
	switch {
	case f.err != nil:
		return 0, f.err
	case f.eof:
		return 0, io.EOF
	case f.st == nil:
		return 0, errInflateNotStarted
	}
	n, err := f.st.fr.Read(p)
	if f.takeover && n > 0 {
		f.record(p[:n])
	}
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		f.eof = true
		// A block with BFINAL set (RFC 7692 section 7.2.3.4) may end the
		// data before the payload does; what follows it is dropped.
		if err := f.drainSource(); err != nil {
			f.err = err
			return n, err
		}
		return n, io.EOF
	case f.st.src.err != nil && err == f.st.src.err:
		f.err = err
	default:
		f.err = fmt.Errorf("%w: %v", errCorruptDeflate, err)
	}
	return n, f.err
}

// drainSource reads the rest of the compressed payload and drops it.
func (f *inflater) drainSource() error {
	_, err := f.st.br.WriteTo(io.Discard)
	return err
}

// finish ends the message. It is meant to follow a Read that returned
// io.EOF. Earlier, it reads the rest of the message first: with context
// takeover it decompresses the rest to keep the window right (costing
// what reading it would; a caller with a limit should read the rest
// through that limit instead), without it only the compressed payload is
// drained. The decompressor goes back to the pool.
func (f *inflater) finish() {
	if f.st == nil {
		return
	}
	if !f.eof && f.err == nil {
		if f.takeover {
			io.Copy(io.Discard, onlyReader{f})
		} else if err := f.drainSource(); err != nil {
			f.err = err
		}
	}
	f.putState()
}

// onlyReader hides everything but Read, so that io.Copy uses its own
// buffer.
type onlyReader struct{ io.Reader }

// release drops all state, as when the connection closes. An inflater
// with context takeover cannot be used after it; one without can.
func (f *inflater) release() {
	if f.st != nil {
		f.putState()
	}
	if f.takeover {
		f.err = errors.New("websocket: inflater released")
	}
	f.hist, f.pos = nil, 0
}

func (f *inflater) putState() {
	st := f.st
	f.st = nil
	st.src = messageSource{}
	st.br.Reset(&st.src)
	inflatePool.Put(st)
}

// record appends output to the window.
func (f *inflater) record(b []byte) {
	w := 1 << f.windowBits
	if len(b) >= w {
		if cap(f.hist) < w {
			f.hist = make([]byte, w)
		}
		f.hist = f.hist[:w]
		copy(f.hist, b[len(b)-w:])
		f.pos = 0
		return
	}
	if len(f.hist) < w {
		k := min(w-len(f.hist), len(b))
		if len(f.hist)+k > cap(f.hist) {
			grown := make([]byte, len(f.hist), min(w, max(2*cap(f.hist), len(f.hist)+k, 512)))
			copy(grown, f.hist)
			f.hist = grown
		}
		f.hist = append(f.hist, b[:k]...)
		b = b[k:]
		if len(b) == 0 {
			return
		}
	}
	n := copy(f.hist[f.pos:], b)
	copy(f.hist, b[n:])
	f.pos = (f.pos + len(b)) % w
}

// windowPools recycle the buffers window swaps out, one pool per size.
var windowPools [maxWindowBits + 1]sync.Pool

// window returns the history in order, oldest byte first. A wrapped ring
// is copied into a fresh buffer, which replaces it.
func (f *inflater) window() []byte {
	if f.pos == 0 {
		return f.hist
	}
	w := len(f.hist)
	var lin []byte
	if b, ok := windowPools[f.windowBits].Get().(*[]byte); ok && cap(*b) >= w {
		lin = (*b)[:w]
	} else {
		lin = make([]byte, w)
	}
	n := copy(lin, f.hist[f.pos:])
	copy(lin[n:], f.hist[:f.pos])
	old := f.hist
	windowPools[f.windowBits].Put(&old)
	f.hist, f.pos = lin, 0
	return f.hist
}

// sliceWriter appends what is written to b.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// deflater compresses the messages of one direction of a connection.
// With context takeover it keeps a compressor (most of a megabyte) from
// the first message on; release returns it to a pool, and compression
// goes on correctly afterwards, only without the earlier messages as
// context. Without context takeover it keeps nothing: at level 1 with a
// full window it compresses without any state, otherwise with a pooled
// compressor.
type deflater struct {
	level      int
	windowBits int
	takeover   bool
	fw         *flate.Writer
	out        sliceWriter
}

// newDeflater returns a deflater at level (1 to 9) with a window of
// 2^windowBits bytes (8 to 15).
func newDeflater(level, windowBits int, contextTakeover bool) *deflater {
	return &deflater{level: min(max(level, 1), 9), windowBits: normWindowBits(windowBits), takeover: contextTakeover}
}

// compress appends the compressed form of p to dst, without the
// 00 00 ff ff tail (RFC 7692 section 7.2.1).
func (d *deflater) compress(dst, p []byte) ([]byte, error) {
	if !d.takeover {
		return compressAppend(dst, d.level, d.windowBits, p)
	}
	if d.fw == nil {
		d.fw = getFlateWriter(d.level, d.windowBits)
		d.fw.Reset(&d.out)
	}
	d.out.b = dst
	_, err := d.fw.Write(p)
	if err == nil {
		err = d.fw.Flush()
	}
	out := d.out.b
	d.out.b = nil
	if err != nil {
		// The compressor's state no longer matches what was sent.
		d.fw = nil
		return dst, err
	}
	return trimTail(out, len(dst))
}

// release gives the compressor back to the pool.
func (d *deflater) release() {
	if d.fw != nil {
		putFlateWriter(d.fw, d.level, d.windowBits)
		d.fw = nil
	}
}

// compressOnce compresses p on its own, with no context: the payload of a
// prepared message that any number of no-context-takeover receivers share.
func compressOnce(level, windowBits int, p []byte) ([]byte, error) {
	return compressAppend(nil, min(max(level, 1), 9), normWindowBits(windowBits), p)
}

// compressAppend compresses p with no context and appends it to dst.
func compressAppend(dst []byte, level, windowBits int, p []byte) ([]byte, error) {
	w := &sliceWriter{b: dst}
	if level <= 1 && windowBits == maxWindowBits {
		// Blocks of under 32 KiB, so matches stay within the window.
		if err := flate.StatelessDeflate(w, p, false, nil); err != nil {
			return dst, err
		}
		return trimTail(w.b, len(dst))
	}
	fw := getFlateWriter(level, windowBits)
	defer putFlateWriter(fw, level, windowBits)
	fw.Reset(w)
	_, err := fw.Write(p)
	if err == nil {
		err = fw.Flush()
	}
	if err != nil {
		return dst, err
	}
	return trimTail(w.b, len(dst))
}

// trimTail removes the sync flush's 00 00 ff ff from out, whose first
// start bytes are not compressed data.
func trimTail(out []byte, start int) ([]byte, error) {
	if len(out)-start < len(deflateTail) || !bytes.HasSuffix(out, deflateTail) {
		return out[:start], errors.New("websocket: compressor output lacks the sync flush")
	}
	return out[:len(out)-len(deflateTail)], nil
}

// flateWriterPools hold idle compressors: index 1..9 by level for full
// windows, and 16+bits for smaller windows (compressed at a fixed level).
var flateWriterPools [16 + maxWindowBits]sync.Pool

func flateWriterPool(level, windowBits int) *sync.Pool {
	if windowBits < maxWindowBits {
		return &flateWriterPools[16+windowBits]
	}
	return &flateWriterPools[min(max(level, 1), 9)]
}

func getFlateWriter(level, windowBits int) *flate.Writer {
	if fw, ok := flateWriterPool(level, windowBits).Get().(*flate.Writer); ok {
		return fw
	}
	var fw *flate.Writer
	var err error
	if windowBits < maxWindowBits {
		fw, err = flate.NewWriterWindow(nil, 1<<windowBits)
	} else {
		fw, err = flate.NewWriter(nil, min(max(level, 1), 9))
	}
	if err != nil {
		// Both sizes and levels are in range by construction.
		panic(err)
	}
	return fw
}

func putFlateWriter(fw *flate.Writer, level, windowBits int) {
	fw.Reset(nil)
	flateWriterPool(level, windowBits).Put(fw)
}
