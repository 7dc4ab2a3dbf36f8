package websocket

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// rawPayload reads the current message's payload as it is on the wire,
// across its frames (control frames in between are handled), for the
// inflater: io.EOF at the end of the final frame.
type rawPayload struct{ c *Conn }

func (s rawPayload) Read(p []byte) (int, error) {
	c := s.c
	r := &c.rd
	for {
		if r.remaining > 0 {
			return c.readPayload(p)
		}
		if r.fin {
			return 0, io.EOF
		}
		if err := c.advanceFrame(); err != nil {
			return 0, err
		}
	}
}

// inflate reads decompressed bytes of the current (compressed) message
// into p. It asks the inflater for no more than one byte past the read
// limit, so a decompression bomb stops there (1009), checks text as it
// comes (1007), and turns corrupt data into 1007. At the message's end it
// returns io.EOF. Errors are final: a compressed message cannot be
// resumed after a deadline, so one ends the connection.
func (c *Conn) inflate(p []byte) (int, error) {
	r := &c.rd
	if limit := c.readLimit.Load(); limit >= 0 {
		if allowed := limit - r.inflated + 1; int64(len(p)) > allowed {
			p = p[:allowed]
		}
	}
	n, err := c.deflate.in.Read(p)
	r.inflated += int64(n)
	if limit := c.readLimit.Load(); limit >= 0 && r.inflated > limit {
		return 0, c.fail(StatusMessageTooBig, fmt.Sprintf("message exceeds the limit of %d bytes", limit))
	}
	if r.typ == opText && !r.utf8.valid(p[:n]) {
		return 0, c.fail(StatusInvalidFramePayloadData, "invalid UTF-8 in text message")
	}
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		c.deflate.in.finish()
		return n, io.EOF
	case errors.Is(err, errCorruptDeflate):
		return 0, c.fail(StatusInvalidFramePayloadData, "invalid compressed data")
	case r.err != nil:
		return 0, r.err // the connection failed while reading the payload
	default:
		// A deadline or a lost connection: the inflater cannot resume.
		c.readFailed(err)
		if r.err == nil {
			r.err = fmt.Errorf("%w: read interrupted inside a compressed message: %w", ErrClosed, err)
		}
		c.closeTCP(endGraceful)
		return 0, err
	}
}

// readCompressedMessage is ReadMessage for a compressed message. The
// buffer starts at a few times the first frame's size and grows as the
// output arrives; when it is full, a small probe read tells a message that
// ends there from one that goes on, so a buffer is not doubled for
// nothing.
func (c *Conn) readCompressedMessage(ctx context.Context) (MessageType, []byte, error) {
	r := &c.rd
	if cap(r.partial) == 0 {
		hint := min(max(4*r.size, 512), exactGrowthLimit)
		if limit := c.readLimit.Load(); limit >= 0 {
			hint = min(hint, limit+1)
		}
		r.partial = make([]byte, 0, hint)
	}
	for {
		var n int
		var err error
		if len(r.partial) < cap(r.partial) {
			n, err = c.inflate(r.partial[len(r.partial):cap(r.partial)])
			r.partial = r.partial[:len(r.partial)+n]
		} else {
			var probe [512]byte
			n, err = c.inflate(probe[:])
			r.partial = append(r.partial, probe[:n]...)
		}
		if err == io.EOF {
			msg := r.partial
			r.partial, r.hasPartial = nil, false
			if err := c.endMessage(); err != nil {
				return 0, nil, err
			}
			r.releaseReadBuf()
			return MessageType(r.typ), msg, nil
		}
		if err != nil {
			r.partial, r.hasPartial = nil, false
			return 0, nil, ctxError(ctx, err)
		}
	}
}
