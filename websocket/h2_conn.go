package websocket

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// streamConn is a net.Conn over one HTTP/2 stream (RFC 8441): what a Conn
// reads is the stream's incoming DATA (a request body on the server, a
// response body on the client), what it writes goes out as DATA on the
// other half. The Conn runs on it as on a socket, with what a stream
// cannot offer left out on purpose: it is no *net.TCPConn, so the session
// never parks it in the poller, no raw descriptor is read or written,
// and no TCP ending (linger, drain) applies; and it has no NetConn
// method, so nothing reaches through it to the TCP connection that the
// stream shares with the page and the other sockets.
//
// Deadlines have net.Conn's meaning. net/http's own stream deadlines
// cannot give it for reads: an expired read deadline closes the request
// body for good, while a Conn expects a read cut short by a context to
// leave the connection usable. So reads go through a reader goroutine,
// started at the first read and ended by Close or the end of the stream,
// and a deadline only stops the wait for it. An expired write deadline
// ends the stream (net/http resets it; the client breaks its pipe), which
// is what a Conn does after a write timeout anyway.
type streamConn struct {
	body   io.ReadCloser
	out    io.Writer    // the other half: a ResponseWriter or a pipe
	flush  func() error // pushes out what out buffered; nil: nothing to flush
	local  net.Addr
	remote net.Addr

	// setWriteDeadline bounds the writes of out; breakWrite ends a write
	// blocked in out at once (and with it the stream's sending half).
	setWriteDeadline func(time.Time) error
	breakWrite       func()
	// closeWrite, if set, ends the sending half with END_STREAM (the
	// client's request body); finish releases the stream.
	closeWrite func() error
	finish     func()

	// Reading: one goroutine (pump) reads the body and hands over what it
	// read; taken tells it the reader is done with that chunk's buffer.
	startPump sync.Once
	chunks    chan streamChunk
	taken     chan struct{}
	rest      []byte // the unread part of the last chunk
	readErr   error
	readDL    deadline
	// The pump's buffers: an idle stream waits in small, so that it holds
	// no 8 KiB buffer; big, from the pool, after a read that filled the
	// buffer (a large message arriving), until one does not.
	small [smallStreamRead]byte
	big   *[readBufferSize]byte

	// Writing: wmu is held through each write, so that Close can wait for
	// one in flight (after breaking it) before the stream is released;
	// ctlMu through each setWriteDeadline, for the same reason (on the
	// server both reach net/http's ResponseWriter, which must not be
	// touched once the handler has returned).
	wmu      sync.Mutex
	ctlMu    sync.Mutex
	writing  atomic.Bool
	writeDL  atomic.Int64 // UnixNano; 0: none
	closed   chan struct{}
	isClosed atomic.Bool
	once     sync.Once
}

// smallStreamRead is the buffer an idle stream's pump waits in: enough
// for a typical chat message, small enough to cost little per socket.
const smallStreamRead = 512

// streamChunk is one read of the stream's body.
type streamChunk struct {
	data []byte
	err  error
}

// errStreamTimeout is what an expired deadline makes a stream read or
// write return: it matches os.ErrDeadlineExceeded and is a net.Error
// whose Timeout is true, as a socket's.
var errStreamTimeout = fmt.Errorf("websocket: HTTP/2 stream: %w", os.ErrDeadlineExceeded)

func newStreamConn(body io.ReadCloser, out io.Writer) *streamConn {
	return &streamConn{
		body:   body,
		out:    out,
		chunks: make(chan streamChunk),
		taken:  make(chan struct{}, 1),
		closed: make(chan struct{}),
		readDL: makeDeadline(),
	}
}

// pump reads the body until it ends or the stream is closed. A buffer
// handed over is not read into again before the reader is done with it.
// (On close a big buffer the reader may still be copying from is left to
// the garbage collector rather than put back in the pool.)
func (s *streamConn) pump() {
	bulk := false
	for {
		var p []byte
		if bulk {
			if s.big == nil {
				s.big = readBufPool.Get().(*[readBufferSize]byte)
			}
			p = s.big[:]
		} else {
			if s.big != nil {
				readBufPool.Put(s.big)
				s.big = nil
			}
			p = s.small[:]
		}
		n, err := s.body.Read(p)
		bulk = n == len(p)
		select {
		case s.chunks <- streamChunk{p[:n], err}:
		case <-s.closed:
			return
		}
		if err != nil {
			return
		}
		select {
		case <-s.taken:
		case <-s.closed:
			return
		}
	}
}

// Read reads the stream; only one goroutine reads at a time (the Conn's
// readSem holder).
func (s *streamConn) Read(p []byte) (int, error) {
	for {
		if len(s.rest) > 0 {
			return s.takeRest(p), nil
		}
		if s.readErr != nil {
			return 0, s.readErr
		}
		if s.isClosed.Load() {
			return 0, net.ErrClosed
		}
		if s.readDL.expired() {
			return 0, errStreamTimeout
		}
		s.startPump.Do(func() { go s.pump() })
		select {
		case ch := <-s.chunks:
			if ch.err != nil {
				if errors.Is(ch.err, io.EOF) {
					s.readErr = io.EOF
				} else {
					s.readErr = fmt.Errorf("websocket: HTTP/2 stream: %w", ch.err)
				}
				s.rest = ch.data // the pump has stopped: no taken owed
				continue
			}
			if len(ch.data) == 0 {
				s.taken <- struct{}{}
				continue
			}
			s.rest = ch.data
			return s.takeRest(p), nil
		case <-s.readDL.wait():
			return 0, errStreamTimeout
		case <-s.closed:
			return 0, net.ErrClosed
		}
	}
}

// takeRest copies what is left of the last chunk into p, and hands its
// buffer back to the pump once it is all read.
func (s *streamConn) takeRest(p []byte) int {
	n := copy(p, s.rest)
	s.rest = s.rest[n:]
	if len(s.rest) == 0 {
		s.rest = nil
		if s.readErr == nil {
			s.taken <- struct{}{}
		}
	}
	return n
}

// Write sends p as DATA on the stream and flushes it, so that a frame
// the Conn wrote is on its way when Write returns, as on a socket.
func (s *streamConn) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.isClosed.Load() {
		return 0, net.ErrClosed
	}
	// writing is set before isClosed is checked again, as Close sets
	// isClosed before it checks writing: either this write sees the close,
	// or Close sees the write and breaks it. (A deadline timer of the
	// client's looks at writing too.)
	s.writing.Store(true)
	defer s.writing.Store(false)
	if s.isClosed.Load() {
		return 0, net.ErrClosed
	}
	if s.writeExpired() {
		return 0, errStreamTimeout
	}
	n, err := s.out.Write(p)
	if err == nil && s.flush != nil {
		err = s.flush()
	}
	if err != nil {
		if s.writeExpired() {
			return n, errStreamTimeout
		}
		if s.isClosed.Load() {
			return n, net.ErrClosed
		}
		return n, fmt.Errorf("websocket: HTTP/2 stream: %w", err)
	}
	return n, nil
}

// CloseWrite ends the sending half of the stream (END_STREAM behind what
// was written), where the role allows it while the stream lives: only
// the client can, by closing its request body; a server's half ends when
// its handler returns, which Close lets it do.
func (s *streamConn) CloseWrite() error {
	if s.closeWrite == nil {
		return errors.ErrUnsupported
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.closeWrite()
}

// Close ends the stream. A write blocked on a peer that stopped reading
// (HTTP/2 flow control) is broken first, so that Close never waits on the
// peer; what was written before reaches it, since a stream's DATA stays
// in order behind its END_STREAM.
func (s *streamConn) Close() error {
	did := false
	s.once.Do(func() {
		did = true
		s.isClosed.Store(true)
		close(s.closed)
		s.body.Close()
		if s.writing.Load() && s.breakWrite != nil {
			s.breakWrite()
		}
		// A write or deadline change in flight ends first; none starts
		// after (isClosed).
		s.wmu.Lock()
		defer s.wmu.Unlock()
		s.ctlMu.Lock()
		defer s.ctlMu.Unlock()
		s.readDL.stop()
		if s.finish != nil {
			s.finish()
		}
	})
	if !did {
		return net.ErrClosed
	}
	return nil
}

func (s *streamConn) LocalAddr() net.Addr  { return s.local }
func (s *streamConn) RemoteAddr() net.Addr { return s.remote }

// SetDeadline sets both deadlines.
func (s *streamConn) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

// SetReadDeadline bounds reads, a blocked one included; expiry leaves
// the stream usable.
func (s *streamConn) SetReadDeadline(t time.Time) error {
	s.readDL.set(t)
	return nil
}

// SetWriteDeadline bounds writes. It takes effect on a write already
// blocked, whose expiry ends the stream.
func (s *streamConn) SetWriteDeadline(t time.Time) error {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	if s.isClosed.Load() {
		return net.ErrClosed
	}
	if s.setWriteDeadline != nil {
		if err := s.setWriteDeadline(t); err != nil {
			return err
		}
	}
	s.writeDL.Store(t.UnixNano())
	if t.IsZero() {
		s.writeDL.Store(0)
	}
	return nil
}

// writeExpired reports whether the write deadline has passed.
func (s *streamConn) writeExpired() bool {
	dl := s.writeDL.Load()
	return dl != 0 && time.Now().UnixNano() >= dl
}

// streamAddr is a network address known only as a string (a request's
// RemoteAddr that does not parse as host:port).
type streamAddr string

func (a streamAddr) Network() string { return "tcp" }
func (a streamAddr) String() string  { return string(a) }

// deadline is a deadline that readers can wait on: wait returns a
// channel closed when the deadline passes. Moving the deadline while
// someone waits takes effect for that wait (the channel is kept unless
// it was already closed).
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{} // closed when the deadline passes
}

func makeDeadline() deadline { return deadline{cancel: make(chan struct{})} }

// set moves the deadline to t; zero removes it.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait until it closed the channel
	}
	d.timer = nil
	closed := isDone(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		cancel := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(cancel) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

// stop releases the timer.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && d.timer.Stop() {
		d.timer = nil
	}
}

func (d *deadline) expired() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return isDone(d.cancel)
}

func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

func isDone(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
