package websocket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// exactGrowthLimit is the largest declared frame length that a read
// allocates in one go before the bytes arrive. Beyond it the message
// buffer grows by doubling as bytes come in, so a peer that announces a
// large frame and sends nothing costs at most this much.
const exactGrowthLimit = 64 << 10

// readState is the reading side of a Conn, owned by the holder of lockRead.
// Every step that can block (filling the buffer) happens before state
// changes, so a read interrupted by a deadline or a context resumes where
// it stopped.
type readState struct {
	buf    []byte                // nil while idle (see buffers.go)
	pooled *[readBufferSize]byte // buf's pooled array, if it is one
	pos    int                   // unread bytes are buf[pos:end]
	end    int
	idle   idleRead // readIdle's state (buffers_unix.go)
	err    error

	// The current data frame.
	remaining int64
	key       uint32
	masked    bool
	fin       bool
	// starved says the last fill stopped (a deadline, a context) before
	// it had the bytes it needed: what is buffered cannot be read on
	// without more from the socket.
	starved bool
	typ     opcode // the current message's: opText or opBinary

	// The current message.
	frames   int64  // frames so far
	size     int64  // payload bytes on the wire
	inflated int64  // decompressed bytes handed out so far
	gen      uint64 // counts messages; a stale messageReader sees a change
	// partial is ReadMessage's message so far when a deadline or context
	// interrupted it; hasPartial says a ReadMessage is in progress.
	partial    []byte
	reader     messageReader
	hasPartial bool
	inMessage  bool
	compressed bool // permessage-deflate: RSV1 on the first frame
	utf8       utf8Validator
}

// ReadMessage reads the next data message whole. Control frames that
// arrive meanwhile are handled: pings answered, pongs reported to OnPong,
// and a close frame answered, after which ReadMessage returns the peer's
// *CloseError.
//
// When ctx ends or a read deadline passes, ReadMessage returns the error
// and the connection stays usable: the next call resumes the same message.
// Any other error is final and matches ErrClosed; a *ProtocolError means
// the peer broke the protocol or the read limit, and the connection was
// failed with that close code.
func (c *Conn) ReadMessage(ctx context.Context) (MessageType, []byte, error) {
	return c.readMessage(ctx, nil)
}

// ReadMessageInto is ReadMessage reading the payload into buf's array
// (appending to buf[:0]) while it has room, so that a server can read
// into buffers it reuses instead of allocating one per message: at tens
// of thousands of messages a second the garbage collector costs more
// than the copying. A message larger than cap(buf) gets a new array, as
// append would. The returned slice aliases buf when it fits. A read
// interrupted by a deadline or context resumes into the buffer the
// interrupted call was given.
func (c *Conn) ReadMessageInto(ctx context.Context, buf []byte) (MessageType, []byte, error) {
	return c.readMessage(ctx, buf[:0:cap(buf)])
}

func (c *Conn) readMessage(ctx context.Context, dst []byte) (MessageType, []byte, error) {
	if err := c.acquire(ctx, lockRead); err != nil {
		return 0, nil, c.readAcquireError(err)
	}
	defer c.locks.unlock(lockRead)
	if c.armRead(ctx) {
		defer c.readWatch.disarm()
	}
	r := &c.rd
	if r.err != nil {
		// Also when the error struck inside a message: nothing after it
		// may be read.
		return 0, nil, r.err
	}
	if !r.hasPartial {
		if err := c.startMessage(); err != nil {
			return 0, nil, ctxError(ctx, err)
		}
		r.partial = dst
		r.hasPartial = true
		if r.compressed {
			c.deflate.in.start(rawPayload{c})
		}
	}
	if r.compressed {
		return c.readCompressedMessage(ctx)
	}
	for {
		if r.remaining == 0 {
			if r.fin {
				msg := r.partial
				r.partial, r.hasPartial = nil, false
				if err := c.endMessage(); err != nil {
					return 0, nil, err
				}
				r.releaseReadBuf()
				if msg == nil {
					msg = []byte{}
				}
				return MessageType(r.typ), msg, nil
			}
			if err := c.advanceFrame(); err != nil {
				return 0, nil, ctxError(ctx, err)
			}
			continue
		}
		if len(r.partial) == cap(r.partial) {
			r.partial = slices.Grow(r.partial, growth(cap(r.partial), r.remaining, r.end-r.pos))
		}
		n, err := c.readPayload(r.partial[len(r.partial):cap(r.partial)])
		r.partial = r.partial[:len(r.partial)+n]
		if err != nil {
			return 0, nil, ctxError(ctx, err)
		}
	}
}

// growth returns how much to grow a message buffer of capacity have when
// want more payload bytes are due and buffered of them are at hand.
func growth(have int, want int64, buffered int) int {
	if want <= exactGrowthLimit || want <= int64(buffered) {
		return int(want)
	}
	return int(min(want, int64(max(have, exactGrowthLimit))))
}

// NextReader waits for the next data message and returns its type and a
// reader for its payload, for messages too large to hold whole. The reader
// is valid until the next NextReader or ReadMessage call, which skips what
// was left unread. ctx governs the wait for the message's first frame;
// Reads on the returned reader obey the read deadline.
func (c *Conn) NextReader(ctx context.Context) (MessageType, io.Reader, error) {
	if err := c.acquire(ctx, lockRead); err != nil {
		return 0, nil, c.readAcquireError(err)
	}
	defer c.locks.unlock(lockRead)
	if c.armRead(ctx) {
		defer c.readWatch.disarm()
	}
	r := &c.rd
	if r.hasPartial {
		// An interrupted ReadMessage owns the current message.
		r.partial, r.hasPartial = nil, false
	}
	if err := c.startMessage(); err != nil {
		return 0, nil, ctxError(ctx, err)
	}
	if r.compressed {
		c.deflate.in.start(rawPayload{c})
	}
	r.reader.gen = r.gen
	return MessageType(r.typ), &r.reader, nil
}

// readAcquireError maps a failure to get the read lock: a closed
// connection reports why it closed. The reason is in rd, which belongs to
// the holder of lockRead (Close may still be reading the peer's close
// frame), so it is read under lockRead; on a closed connection any holder
// gives it back promptly.
func (c *Conn) readAcquireError(err error) error {
	if !errors.Is(err, ErrClosed) {
		return err
	}
	c.locks.lockNow(lockRead)
	defer c.locks.unlock(lockRead)
	if c.rd.err != nil {
		return c.rd.err
	}
	return err
}

// messageReader reads one message's payload for NextReader.
type messageReader struct {
	c   *Conn
	gen uint64
}

// errStaleReader is returned by a message reader used after the next
// message was requested.
var errStaleReader = errors.New("websocket: read from a message reader after the next message was requested")

// Read reads payload bytes of the message, returning io.EOF at its end.
func (m *messageReader) Read(p []byte) (int, error) {
	c := m.c
	c.locks.lockNow(lockRead)
	defer c.locks.unlock(lockRead)
	r := &c.rd
	switch {
	case r.err != nil:
		return 0, r.err
	case m.gen != r.gen:
		return 0, errStaleReader
	case !r.inMessage:
		return 0, io.EOF
	case r.compressed:
		n, err := c.inflate(p)
		if err == io.EOF {
			if err := c.endMessage(); err != nil {
				return n, err
			}
		}
		return n, err
	}
	for {
		if r.remaining > 0 {
			if len(p) == 0 {
				return 0, nil
			}
			return c.readPayload(p)
		}
		if r.fin {
			if err := c.endMessage(); err != nil {
				return 0, err
			}
			r.releaseReadBuf()
			return 0, io.EOF
		}
		if err := c.advanceFrame(); err != nil {
			return 0, err
		}
	}
}

// startMessage skips the rest of an unfinished message, then reads frames
// until a data frame starts a new one.
func (c *Conn) startMessage() error {
	r := &c.rd
	if r.err != nil {
		return r.err
	}
	if r.inMessage {
		if err := c.skipMessage(); err != nil {
			return err
		}
	}
	return c.advanceFrame()
}

// skipMessage reads and drops the rest of the current message, still
// checking it, so that a violation in the skipped part fails the
// connection as it would have when read.
func (c *Conn) skipMessage() error {
	r := &c.rd
	if r.compressed {
		// The rest must still be decompressed (through the limit), or
		// a context-takeover window would miss it.
		var scratch [512]byte
		for {
			if _, err := c.inflate(scratch[:]); err != nil {
				if err == io.EOF {
					return c.endMessage()
				}
				return err
			}
		}
	}
	for {
		for r.remaining > 0 {
			if err := c.fill(1); err != nil {
				return c.readFailed(err)
			}
			n := int(min(r.remaining, int64(r.end-r.pos)))
			if err := c.consumePayload(r.buf[r.pos : r.pos+n]); err != nil {
				return err
			}
			r.pos += n
		}
		if r.fin {
			return c.endMessage()
		}
		if err := c.advanceFrame(); err != nil {
			return err
		}
	}
}

// endMessage closes the current message after its final frame's payload.
func (c *Conn) endMessage() error {
	r := &c.rd
	if r.typ == opText && !r.utf8.complete() {
		return c.fail(StatusInvalidFramePayloadData, "text message ends inside a UTF-8 sequence")
	}
	r.inMessage = false
	r.fin = false
	r.gen++
	return nil
}

// readPayload reads up to len(p) bytes of the current frame's payload,
// unmasked and checked. It returns the bytes it got even when the read
// that followed failed; the error then comes with the next call.
func (c *Conn) readPayload(p []byte) (int, error) {
	r := &c.rd
	if int64(len(p)) > r.remaining {
		p = p[:r.remaining]
	}
	var n int
	switch {
	case r.end > r.pos:
		n = copy(p, r.buf[r.pos:r.end])
		r.pos += n
	case len(p) >= readBufferSize:
		// A large read goes straight from the socket into the message.
		var err error
		n, err = c.nc.Read(p)
		if n == 0 {
			if err == nil {
				return 0, nil
			}
			return 0, c.readFailed(err)
		}
	default:
		if err := c.fill(1); err != nil {
			return 0, c.readFailed(err)
		}
		n = copy(p, r.buf[r.pos:r.end])
		r.pos += n
	}
	if err := c.consumePayload(p[:n]); err != nil {
		return 0, err
	}
	return n, nil
}

// consumePayload unmasks and checks p, the next bytes of the current
// frame's payload, and counts them.
func (c *Conn) consumePayload(p []byte) error {
	r := &c.rd
	if r.masked {
		r.key = maskBytes(r.key, p)
	}
	r.remaining -= int64(len(p))
	if r.typ == opText && !r.compressed && !r.utf8.valid(p) {
		return c.fail(StatusInvalidFramePayloadData, "invalid UTF-8 in text message")
	}
	return nil
}

// fill makes at least n bytes (n <= len(buf)) available in buf[pos:end].
// On an error the bytes read so far stay buffered.
func (c *Conn) fill(n int) error {
	err := c.fillBuf(n)
	c.rd.starved = err != nil
	return err
}

// fillBuf is fill without the bookkeeping.
func (c *Conn) fillBuf(n int) error {
	r := &c.rd
	if r.end-r.pos >= n {
		return nil
	}
	if r.buf == nil {
		return c.fillFromIdle(n)
	}
	if r.pos == r.end {
		r.pos, r.end = 0, 0
	} else if len(r.buf)-r.pos < n {
		r.end = copy(r.buf, r.buf[r.pos:r.end])
		r.pos = 0
	}
	for r.end-r.pos < n {
		m, err := c.nc.Read(r.buf[r.end:])
		r.end += m
		if err != nil {
			if r.end-r.pos >= n {
				return nil
			}
			return err
		}
	}
	return nil
}

// advanceFrame reads frame headers, handling control frames whole, until
// a data frame's header has been read; it leaves that frame's payload
// unread. It checks every rule a header alone can break.
func (c *Conn) advanceFrame() error {
	r := &c.rd
	for {
		if err := c.fill(2); err != nil {
			return c.readFailed(err)
		}
		hlen := headerSize(r.buf[r.pos+1])
		if err := c.fill(hlen); err != nil {
			return c.readFailed(err)
		}
		h, _, err := parseHeader(r.buf[r.pos:r.end])
		if err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) {
				return c.fail(pe.Code, pe.Reason)
			}
			return c.fail(StatusProtocolError, err.Error())
		}
		if err := c.checkHeader(&h); err != nil {
			return err
		}
		if h.op.isControl() {
			total := hlen + int(h.length)
			if err := c.fill(total); err != nil {
				return c.readFailed(err)
			}
			payload := r.buf[r.pos+hlen : r.pos+total]
			r.pos += total
			if h.masked {
				maskBytes(h.key, payload)
			}
			if err := c.handleControl(h.op, payload); err != nil {
				return err
			}
			continue
		}
		r.pos += hlen
		if h.op != opContinuation {
			r.inMessage = true
			r.typ = h.op
			r.frames = 0
			r.size = 0
			r.compressed = h.rsv1
			r.inflated = 0
			r.utf8.reset()
		}
		r.frames++
		if limit := c.fragmentLimit(); limit >= 0 && r.frames > limit {
			// 1008, not 1009: the message may be small; its shape is
			// what we refuse (RFC 6455 section 7.4.1).
			return c.fail(StatusPolicyViolation, fmt.Sprintf("message in more than %d fragments", limit))
		}
		if limit := c.readLimit.Load(); limit >= 0 && h.length > wireLimit(limit, r.compressed)-r.size {
			return c.fail(StatusMessageTooBig, fmt.Sprintf("message exceeds the limit of %d bytes", limit))
		}
		r.size += h.length
		r.remaining = h.length
		r.key = h.key
		r.masked = h.masked
		r.fin = h.fin
		return nil
	}
}

// checkHeader applies the rules of RFC 6455 section 5 that depend on the
// role and on the message in progress.
func (c *Conn) checkHeader(h *header) error {
	r := &c.rd
	switch {
	case h.rsv1 && c.deflate == nil:
		return c.fail(StatusProtocolError, "RSV1 set without a negotiated extension")
	case h.rsv1 && !h.op.isData():
		return c.fail(StatusProtocolError, "RSV1 set on a control or continuation frame")
	case h.rsv2 || h.rsv3:
		return c.fail(StatusProtocolError, "reserved bits set without a negotiated extension")
	case h.op != opContinuation && !h.op.isData() && h.op != opClose && h.op != opPing && h.op != opPong:
		return c.fail(StatusProtocolError, fmt.Sprintf("reserved opcode %#x", byte(h.op)))
	case c.server && !h.masked:
		return c.fail(StatusProtocolError, "unmasked frame from a client")
	case !c.server && h.masked:
		return c.fail(StatusProtocolError, "masked frame from a server")
	case h.op.isControl() && !h.fin:
		return c.fail(StatusProtocolError, "fragmented control frame")
	case h.op.isControl() && h.length > maxControlPayload:
		return c.fail(StatusProtocolError, "control frame payload over 125 bytes")
	case h.op == opContinuation && !r.inMessage:
		return c.fail(StatusProtocolError, "continuation frame without a message to continue")
	case h.op.isData() && r.inMessage:
		return c.fail(StatusProtocolError, "new data frame inside a fragmented message")
	}
	return nil
}

// handleControl acts on a ping, pong or close frame.
func (c *Conn) handleControl(op opcode, payload []byte) error {
	switch op {
	case opPing:
		if !c.flags.has(flagCloseSent) {
			if err := c.writeControl(context.Background(), opPong, payload); err != nil && !errors.Is(err, ErrClosed) {
				return c.readFailed(err)
			}
		}
		if c.control != nil {
			c.control.pinged(payload)
		}
	case opPong:
		if c.control != nil {
			c.control.ponged(payload)
		}
	case opClose:
		ce, err := parseClosePayload(payload)
		if err != nil {
			var pe *ProtocolError
			errors.As(err, &pe)
			return c.fail(pe.Code, pe.Reason)
		}
		return c.peerClosed(ce)
	}
	return nil
}

// peerClosed finishes the closing handshake the peer started (or answered):
// it echoes the close frame unless ours went out already, then ends the
// connection. The server closes TCP at once (RFC 6455 section 7.1.1); a
// client waits for the server to do so first, so that TIME_WAIT stays on
// the server.
func (c *Conn) peerClosed(ce *CloseError) error {
	c.peerClose.Store(ce)
	c.rd.err = ce
	if c.flags.set(flagCloseSent) {
		code := ce.Code
		if code == StatusNoStatusReceived {
			code = 0
		}
		c.sendCloseFrame(code, "", c.closeTimeout)
	}
	if !c.server {
		c.awaitEOF()
	}
	c.closeTCP(endGraceful)
	c.dropReadBuf()
	return ce
}

// awaitEOF reads and drops whatever the peer still sends until it closes
// the connection or the close timeout passes.
func (c *Conn) awaitEOF() {
	c.nc.SetReadDeadline(time.Now().Add(c.closeTimeout))
	var scratch [512]byte
	for {
		if _, err := c.nc.Read(scratch[:]); err != nil {
			return
		}
	}
}

// readFailed handles an error from the network. A deadline expiry leaves
// the connection usable and is returned as is. Anything else ends it.
func (c *Conn) readFailed(err error) error {
	if isTimeout(err) && !c.isClosed() {
		return err
	}
	r := &c.rd
	if r.err == nil {
		switch {
		case c.peerClose.Load() != nil:
			r.err = c.peerClose.Load()
		case errors.Is(err, io.EOF):
			r.err = fmt.Errorf("%w: connection lost without a close frame: %w", ErrClosed, io.ErrUnexpectedEOF)
		case c.isClosed():
			r.err = ErrClosed
		default:
			r.err = fmt.Errorf("%w: %w", ErrClosed, err)
		}
	}
	c.closeTCP(endGraceful)
	c.dropReadBuf()
	return r.err
}

// fail fails the connection (RFC 6455 section 7.1.7): it sends a close
// frame with code and reason, unless a close frame went out already,
// closes TCP and returns the *ProtocolError that every later read returns.
func (c *Conn) fail(code StatusCode, reason string) error {
	pe := &ProtocolError{Code: code, Reason: reason}
	r := &c.rd
	if r.err == nil {
		r.err = pe
	}
	c.debug("websocket: failing connection", "code", int(code), "reason", reason)
	var err error
	if c.flags.set(flagCloseSent) {
		err = c.sendCloseFrame(code, reason, failWriteTimeout)
	}
	ending := endingAfter(err)
	if ending == endGraceful {
		c.lingerInput()
	}
	c.closeTCP(ending)
	c.dropReadBuf()
	return r.err
}

// dropReadBuf gives the read buffer back once the connection has ended:
// nothing in it will be read.
func (c *Conn) dropReadBuf() {
	c.rd.pos = c.rd.end
	c.rd.releaseReadBuf()
}

// failWriteTimeout bounds the write of the close frame that reports a
// protocol error: the connection is being dropped anyway.
const failWriteTimeout = time.Second

// lingerInput prepares the graceful end of a connection failed for a
// protocol error (tcpclose.go): the write side is shut, so the peer gets
// the close frame just sent and a FIN, and the input is read and dropped
// until the peer closes too or failWriteTimeout passes. A peer still
// sending when it learns of the error would otherwise have its bytes
// arrive at a closed socket, whose reset can destroy the frame in
// flight. The caller is the reader, so waiting here holds nobody up.
func (c *Conn) lingerInput() {
	if c.isClosed() || !c.halfClose() {
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(failWriteTimeout))
	var scratch [512]byte
	for {
		if _, err := c.nc.Read(scratch[:]); err != nil {
			return
		}
	}
}

// fragmentLimit returns the most frames a message may span, -1 for no
// limit: ConnOptions.MaxFragments, or by default one per 64 bytes of the
// current read limit and at least MinDefaultMaxFragments.
func (c *Conn) fragmentLimit() int64 {
	if c.maxFragments != 0 {
		return c.maxFragments
	}
	limit := c.readLimit.Load()
	if limit < 0 {
		return -1
	}
	return max(limit>>6, MinDefaultMaxFragments)
}

// wireLimit is how many payload bytes a message may take on the wire. A
// compressed message is limited by its decompressed size, checked as it
// inflates; on the wire it may exceed that by deflate's framing overhead
// on incompressible data, which this allows for.
func wireLimit(limit int64, compressed bool) int64 {
	if compressed {
		return limit + limit>>8 + 1024
	}
	return limit
}
