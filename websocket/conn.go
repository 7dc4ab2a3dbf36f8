package websocket

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Buffer sizes. Both buffers are pooled and held only while bytes are
// read or a frame is written (buffers.go); messages larger than them pass
// through them without being copied whole (reads go straight into the
// message, server writes use writev).
const (
	readBufferSize  = 8192
	writeBufferSize = 4096
)

// Conn is a WebSocket connection in either role, made by Accept (server) or
// Dial (client).
//
// Any number of goroutines may call the write methods (WriteMessage,
// NextWriter, WritePrepared, Ping) and Close at once: messages never
// interleave, and control frames go out between the fragments of a message
// written with NextWriter. Reads (ReadMessage, NextReader and its reader)
// are for one goroutine at a time. Pings are answered and close frames
// handled by whoever is reading; Close reads by itself when nobody does.
type Conn struct {
	nc     net.Conn
	server bool
	// flags holds the connection's one-way state (connFlags): whether
	// the TCP connection was closed (set under dlMu), our close frame was
	// sent, a close is owed, the write side was shut.
	flags        connFlags
	subprotocol  string
	closeTimeout time.Duration
	// control is told of the pings and pongs read: the Session serving
	// the connection, or ConnOptions.OnPing and OnPong; nil for neither.
	control      controlHandler
	logger       *slog.Logger
	readLimit    atomic.Int64
	maxFragments int64 // ConnOptions.maxFragments: 0 follows readLimit

	// locks: lockRead is held by the goroutine reading frames (a
	// ReadMessage or NextReader call, a message reader's Read, or Close
	// draining the connection to find the peer's close frame), and
	// everything in rd belongs to its holder; lockMessage is held for a
	// whole data message and lockFrame for one frame, so that control
	// frames can be written between fragments (locks.go).
	locks connLocks
	rd    readState
	wr    writeState

	// deflate is set when permessage-deflate was negotiated.
	deflate *connDeflate

	// raw reads the socket without a buffer while idle (buffers.go); nil
	// for connections that are not plain sockets (TLS, pipes).
	raw syscall.RawConn

	// Deadlines set by the user, made on the first SetReadDeadline or
	// SetWriteDeadline (most connections never set one); a context's
	// deadline is applied on top of them for one call and then they are
	// restored. dlMu guards them, and done.
	dlMu       sync.Mutex
	deadlines  *userDeadlines
	readWatch  *ctxWatch // for the holder of lockRead: armRead
	writeWatch *ctxWatch // for the holder of lockFrame: armWrite

	// peerClose is the close frame the peer sent, once read.
	peerClose atomic.Pointer[CloseError]
	closeOnce sync.Once
	// done is closed once flagClosed is set; made on first need
	// (doneChan), under dlMu.
	done chan struct{}

	// park is the connection's wait in a poller, if any (poller.go).
	park parkState
}

// controlHandler is told of each ping and pong a Conn reads, with the
// payload, valid only during the call.
type controlHandler interface {
	pinged(payload []byte)
	ponged(payload []byte)
}

// controlHooks is the controlHandler of ConnOptions.OnPing and OnPong.
type controlHooks struct{ onPing, onPong func([]byte) }

func (h *controlHooks) pinged(p []byte) {
	if h.onPing != nil {
		h.onPing(p)
	}
}

func (h *controlHooks) ponged(p []byte) {
	if h.onPong != nil {
		h.onPong(p)
	}
}

// newConn wraps nc, an established connection after the opening handshake.
// buffered holds bytes already read from nc past the handshake.
func newConn(nc net.Conn, buffered []byte, server bool, subprotocol string, opts *ConnOptions) *Conn {
	return newConnDeflating(nc, buffered, server, subprotocol, opts, nil, nil)
}

// newConnDeflating is newConn for a connection that negotiated
// permessage-deflate with params p (nil: not negotiated).
func newConnDeflating(nc net.Conn, buffered []byte, server bool, subprotocol string, opts *ConnOptions, p *deflateParams, copts *CompressionOptions) *Conn {
	if opts == nil {
		opts = &ConnOptions{}
	}
	c := &Conn{
		nc:           nc,
		server:       server,
		subprotocol:  subprotocol,
		closeTimeout: opts.closeTimeout(),
		logger:       opts.Logger,
	}
	if opts.OnPing != nil || opts.OnPong != nil {
		c.control = &controlHooks{onPing: opts.OnPing, onPong: opts.OnPong}
	}
	c.readLimit.Store(opts.readLimit())
	c.maxFragments = opts.maxFragments()
	if len(buffered) > 0 {
		// Bytes that came with the handshake; later reads use pooled
		// buffers.
		c.rd.buf = make([]byte, max(readBufferSize, len(buffered)))
		c.rd.end = copy(c.rd.buf, buffered)
	}
	c.raw = rawSocket(nc)
	c.rd.reader.c = c
	if p != nil {
		c.deflate = newConnDeflate(*p, server, copts)
	}
	return c
}

// rawSocket returns nc's descriptor access if the connection may be read
// and written through it: only a plain TCP or Unix socket (a wrapper that
// offers its descriptor may hold bytes of its own, as TLS does), and only
// where raw reads are supported.
func rawSocket(nc net.Conn) syscall.RawConn {
	if !rawReadSupported {
		return nil
	}
	var sc syscall.Conn
	switch t := nc.(type) {
	case *net.TCPConn:
		sc = t
	case *net.UnixConn:
		sc = t
	default:
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// Subprotocol returns the subprotocol agreed in the handshake, or "".
func (c *Conn) Subprotocol() string { return c.subprotocol }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// NetConn returns the underlying connection, for settings such as
// TCP_NODELAY. Reading or writing it directly corrupts the stream.
func (c *Conn) NetConn() net.Conn { return c.nc }

// SetReadLimit sets the largest message a read accepts, in bytes; n < 0
// removes the limit. It applies from the next frame header read.
func (c *Conn) SetReadLimit(n int64) {
	if n < 0 {
		n = -1
	}
	c.readLimit.Store(n)
}

// SetReadDeadline sets the deadline for reads on the connection, as
// net.Conn does. A read that hits it returns an error matching
// os.ErrDeadlineExceeded and leaves the connection usable.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.userDeadlinesLocked().read = t
	return c.nc.SetReadDeadline(t)
}

// SetWriteDeadline sets the deadline for writes. A write that hits it
// after part of a frame went out leaves the stream broken, so the
// connection is then closed.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.userDeadlinesLocked().write = t
	return c.nc.SetWriteDeadline(t)
}

// Done returns a channel that is closed when the TCP connection has been
// closed, whatever the reason.
func (c *Conn) Done() <-chan struct{} { return c.doneChan() }

// doneChan returns the channel closed when the TCP connection is closed,
// making it on first use: most connections never need one, and a channel
// is a hundred bytes of every idle connection otherwise.
func (c *Conn) doneChan() chan struct{} {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.flags.has(flagClosed) {
			close(c.done)
		}
	}
	return c.done
}

// PeerClose returns the close frame the peer sent, or nil if none was
// read (yet).
func (c *Conn) PeerClose() *CloseError { return c.peerClose.Load() }

// CloseNow closes the TCP connection without a closing handshake. A
// close frame already written still reaches the peer: the connection ends
// with a FIN behind it, not a reset. Only when a write is blocked on a
// peer that has stopped reading, with bytes the kernel cannot send, are
// those bytes discarded and the connection reset, so that the socket's
// memory is released at once (see doc.go, "Ending connections").
func (c *Conn) CloseNow() error {
	ending := endGraceful
	if c.locks.isLocked(lockFrame) { // a write is under way, perhaps stuck
		ending = c.endingIfUnsent()
	}
	if c.closeTCP(ending) {
		return nil
	}
	return ErrClosed
}

// closeTCP ends the network connection once, as ending says
// (tcpclose.go), and reports whether this call did it.
func (c *Conn) closeTCP(ending tcpEnding) bool {
	did := false
	c.closeOnce.Do(func() {
		did = true
		c.endTCP(ending)
		c.dlMu.Lock()
		c.flags.set(flagClosed)
		if c.done != nil {
			close(c.done)
		}
		c.dlMu.Unlock()
		c.releaseCompression()
		c.wakeParked(0) // a closed socket gives its poller no event
	})
	return did
}

// isClosed reports whether the TCP connection was closed.
func (c *Conn) isClosed() bool { return c.flags.has(flagClosed) }

// acquire takes lock, giving up when ctx ends or the connection closes.
func (c *Conn) acquire(ctx context.Context, lock uint32) error {
	if c.locks.tryLock(lock) {
		return nil
	}
	switch c.locks.lock(lock, ctx.Done(), nil, c.doneChan()) {
	case lockTaken:
		return nil
	case lockStopped:
		return ctx.Err()
	}
	return ErrClosed
}

// ctxWatch makes a context govern the blocking I/O of one call in one
// direction: the context's deadline becomes the connection's read or write
// deadline (unless the user set an earlier one), and its cancellation
// interrupts the I/O by moving the deadline into the past. A Conn has one
// per direction, used only by the holder of lockRead or lockFrame, so arming
// it allocates only what context.AfterFunc does, and a context that can
// never end costs nothing.
type ctxWatch struct {
	c         *Conn
	write     bool
	mu        sync.Mutex
	fired     sync.Cond // signalled when expire has run
	armed     bool
	didFire   bool
	stop      func() bool
	interrupt func() // w.expire, bound once
}

func (w *ctxWatch) init(c *Conn, write bool) {
	w.c, w.write = c, write
	w.fired.L = &w.mu
	w.interrupt = w.expire
}

// armRead and armWrite are ctxWatch.arm on the connection's watch for
// reads or writes, made on first use: many connections never see a
// context that can end (a server loop reading with context.Background),
// and a watch is a hundred bytes of every idle connection otherwise. The
// read watch belongs to the holder of lockRead, the write watch to the
// holder of lockFrame; disarm after an arm that reported true.
func (c *Conn) armRead(ctx context.Context) bool { return c.arm(&c.readWatch, ctx, false) }

// armWrite: see armRead.
func (c *Conn) armWrite(ctx context.Context) bool { return c.arm(&c.writeWatch, ctx, true) }

func (c *Conn) arm(w **ctxWatch, ctx context.Context, write bool) bool {
	if ctx.Done() == nil {
		return false
	}
	if *w == nil {
		*w = new(ctxWatch)
		(*w).init(c, write)
	}
	return (*w).arm(ctx)
}

func (w *ctxWatch) setDeadline(t time.Time) {
	if w.write {
		w.c.nc.SetWriteDeadline(t)
	} else {
		w.c.nc.SetReadDeadline(t)
	}
}

// userDeadline is the deadline set with SetReadDeadline or
// SetWriteDeadline; the caller holds dlMu.
func (w *ctxWatch) userDeadline() time.Time {
	return w.c.userDeadline(w.write)
}

// interruptRead makes a blocked read (or the next one) fail with a
// timeout, leaving the user's deadline recorded; restoreReadDeadline puts
// that deadline back. A Session interrupts its reader this way, to park
// it or to nudge it (session_read.go, session_nudge.go); recording nothing
// keeps an idle connection from paying for a deadline record.
func (c *Conn) interruptRead() {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.nc.SetReadDeadline(aLongTimeAgo)
}

// restoreReadDeadline: see interruptRead.
func (c *Conn) restoreReadDeadline() {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.nc.SetReadDeadline(c.userDeadline(false))
}

// userDeadlines are the deadlines a user set on a Conn.
type userDeadlines struct{ read, write time.Time }

// userDeadline is the user's write deadline (write) or read deadline, zero
// if none was set; the caller holds dlMu.
func (c *Conn) userDeadline(write bool) time.Time {
	switch {
	case c.deadlines == nil:
		return time.Time{}
	case write:
		return c.deadlines.write
	}
	return c.deadlines.read
}

// userDeadlinesLocked returns the user's deadlines, making them on first
// use; the caller holds dlMu.
func (c *Conn) userDeadlinesLocked() *userDeadlines {
	if c.deadlines == nil {
		c.deadlines = new(userDeadlines)
	}
	return c.deadlines
}

// expire runs when the context ends.
func (w *ctxWatch) expire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.armed {
		w.setDeadline(aLongTimeAgo)
	}
	w.didFire = true
	w.fired.Broadcast()
}

// arm applies ctx until disarm and reports whether disarm is needed.
func (w *ctxWatch) arm(ctx context.Context) bool {
	if ctx.Done() == nil {
		return false
	}
	w.c.dlMu.Lock()
	if d, ok := ctx.Deadline(); ok {
		if user := w.userDeadline(); user.IsZero() || d.Before(user) {
			w.setDeadline(d)
		}
	}
	w.c.dlMu.Unlock()
	w.mu.Lock()
	w.armed = true
	w.mu.Unlock()
	w.stop = context.AfterFunc(ctx, w.interrupt)
	return true
}

// disarm detaches the context and restores the user's deadline. If the
// context ended meanwhile, it first waits for expire to finish, so that a
// late expire cannot reach the next call's deadline.
func (w *ctxWatch) disarm() {
	started := !w.stop()
	w.stop = nil
	w.mu.Lock()
	for started && !w.didFire {
		w.fired.Wait()
	}
	w.armed = false
	w.didFire = false
	w.mu.Unlock()
	w.c.dlMu.Lock()
	w.setDeadline(w.userDeadline())
	w.c.dlMu.Unlock()
}

// aLongTimeAgo is a deadline in the past, which interrupts blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// ctxError turns an I/O error caused by ctx's deadline or cancellation
// into ctx's error; other errors pass unchanged.
func ctxError(ctx context.Context, err error) error {
	if err == nil || ctx.Done() == nil || !isTimeout(err) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	// The deadline, set from ctx, can pass before ctx's own timer fires.
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return err
}

// isTimeout reports whether err is a deadline expiry, after which the
// connection can still be used.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// newMaskKey returns a fresh masking key from crypto/rand, as RFC 6455
// section 5.3 requires ("derived from a strong source of entropy"); keys
// are drawn 16 at a time to keep the cost per frame low.
func (w *writeState) newMaskKey() uint32 {
	// keyPos counts down the unused keys at the end of keys, so the zero
	// value means "none left" and the first call fills the batch.
	if w.keyPos == 0 {
		if w.keys == nil {
			w.keys = new([64]byte) // clients only: servers do not mask
		}
		rand.Read(w.keys[:])
		w.keyPos = len(w.keys)
	}
	w.keyPos -= 4
	k := w.keys[w.keyPos:]
	return uint32(k[0]) | uint32(k[1])<<8 | uint32(k[2])<<16 | uint32(k[3])<<24
}

func (c *Conn) debug(msg string, args ...any) {
	if c.logger != nil {
		c.logger.Debug(msg, append(args, "remote", c.nc.RemoteAddr().String())...)
	}
}

// connFlags is a Conn's one-way state, one bit each, in one word where an
// atomic.Bool each took four (and, with their padding, a size class of the
// allocator for every connection).
type connFlags struct{ v atomic.Uint32 }

const (
	// flagClosed: the TCP connection was closed; set under dlMu.
	flagClosed uint32 = 1 << iota
	// flagCloseSent is set, before the frame is written, by whoever sends
	// our close frame; from then on no data frame may be written.
	flagCloseSent
	// flagCloseOwed says SendClose sent our close frame and the next
	// Close finishes the handshake.
	flagCloseOwed
	// flagHalfClosed says the write side was shut (tcpclose.go).
	flagHalfClosed
)

// has reports whether bit is set.
func (f *connFlags) has(bit uint32) bool { return f.v.Load()&bit != 0 }

// set sets bit and reports whether this call did (it was clear).
func (f *connFlags) set(bit uint32) bool { return f.v.Or(bit)&bit == 0 }

// unset clears bit and reports whether this call did (it was set).
func (f *connFlags) unset(bit uint32) bool { return f.v.And(^bit)&bit != 0 }
