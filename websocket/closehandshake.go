package websocket

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Close starts or answers the closing handshake (RFC 6455 section 7): it
// sends a close frame with code and reason, waits up to the close timeout
// for the peer's close frame, and closes the TCP connection. A zero code
// (or StatusNoStatusReceived) sends a close frame without a payload; other
// codes must be ones a close frame may carry (StatusCode.Valid). Reasons
// longer than 123 bytes are cut at a rune boundary.
//
// If a goroutine is reading, it sees the peer's close frame and Close waits
// for it; otherwise Close reads by itself, dropping any data that arrives
// first. Close may be called from any goroutine and more than once; calls
// after the first wait for the connection to close and return an error
// matching ErrClosed. After SendClose, the first Close (its code and
// reason unused) finishes the handshake SendClose began.
//
// The connection ends with a FIN behind the close frame, unless the peer
// did not answer and the kernel still holds bytes it could not send to
// it: then they are discarded and the connection reset (doc.go, "Ending
// connections").
func (c *Conn) Close(code StatusCode, reason string) error {
	code, err := sendableCode(code)
	if err != nil {
		return err
	}
	if !c.flags.set(flagCloseSent) {
		if c.flags.unset(flagCloseOwed) {
			return c.finishClose()
		}
		c.waitClosed(c.closeTimeout)
		return ErrClosed
	}
	if err := c.sendCloseFrame(code, reason, c.closeTimeout); err != nil {
		c.closeTCP(endingAfter(err))
		return err
	}
	return c.finishClose()
}

// SendClose starts the closing handshake: it sends a close frame with code
// and reason, as Close does, and returns once the socket has taken it,
// without waiting for the peer's answer. So when it returns nil the frame
// has left the process, and it will reach the peer however the connection
// ends. Close, called next, finishes the handshake: it waits for the
// answer (up to the close timeout) and closes TCP. It fails with an error
// matching ErrClosed when a close frame was sent already.
func (c *Conn) SendClose(code StatusCode, reason string) error {
	code, err := sendableCode(code)
	if err != nil {
		return err
	}
	if !c.flags.set(flagCloseSent) {
		return ErrClosed
	}
	if err := c.sendCloseFrame(code, reason, c.closeTimeout); err != nil {
		c.closeTCP(endingAfter(err))
		return err
	}
	c.flags.set(flagCloseOwed)
	return nil
}

// sendableCode checks a code for a close frame we send; the zero code and
// StatusNoStatusReceived both mean a frame without a payload (0).
func sendableCode(code StatusCode) (StatusCode, error) {
	if code == StatusNoStatusReceived {
		code = 0
	}
	if code != 0 && !code.Valid() {
		return 0, fmt.Errorf("websocket: close code %d may not be sent", int(code))
	}
	return code, nil
}

// finishClose waits for the peer's answer to our close frame and closes
// TCP: gracefully, unless the peer did not answer and is not taking the
// bytes we sent either.
func (c *Conn) finishClose() error {
	if !c.awaitPeerClose() {
		c.closeTCP(c.endingIfUnsent())
		return ErrCloseTimeout
	}
	c.closeTCP(endGraceful)
	return nil
}

// ErrCloseTimeout is returned by Close when the peer did not answer the
// close frame within the close timeout; the TCP connection was closed
// anyway.
var ErrCloseTimeout = errors.New("websocket: peer did not complete the closing handshake in time")

// awaitPeerClose waits for the peer's close frame after ours was sent. The
// goroutine that reads it closes the connection, so waiting for doneChan is
// enough while someone reads; when nobody does, this takes the read lock
// and reads until the close frame, discarding data messages. It reports
// whether the peer's close frame arrived. A timer is made only when
// another goroutine is reading: otherwise the read deadline alone bounds
// the wait.
func (c *Conn) awaitPeerClose() bool {
	if c.isClosed() {
		return c.peerClose.Load() != nil
	}
	if c.locks.tryLock(lockRead) {
		c.readUntilPeerClose(time.Now().Add(c.closeTimeout))
		return c.peerClose.Load() != nil
	}
	deadline := time.Now().Add(c.closeTimeout)
	timer := time.NewTimer(c.closeTimeout)
	defer timer.Stop()
	if c.locks.lock(lockRead, nil, timer.C, c.doneChan()) == lockTaken {
		c.readUntilPeerClose(deadline)
	}
	return c.peerClose.Load() != nil
}

// readUntilPeerClose reads frames, dropping data, until the peer's close
// frame or an error, with deadline as the read deadline; the caller has
// taken lockRead, which this gives back.
func (c *Conn) readUntilPeerClose(deadline time.Time) {
	defer c.locks.unlock(lockRead)
	c.dlMu.Lock()
	c.nc.SetReadDeadline(deadline)
	c.dlMu.Unlock()
	for c.rd.err == nil {
		if err := c.startMessage(); err != nil {
			return
		}
		if err := c.skipMessage(); err != nil {
			return
		}
	}
}

// waitClosed waits up to d for the connection to close.
func (c *Conn) waitClosed(d time.Duration) {
	if c.isClosed() {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-c.doneChan():
	case <-timer.C:
	}
}

// sendCloseFrame writes our close frame with code and reason; the caller
// has set flagCloseSent. It waits at most timeout for the frame lock and for
// the socket. Written this way rather than through writeFrame with a
// context, a close frame costs no context, timer or deadline change in
// the usual case, where the lock is free and the socket takes the frame
// at once.
func (c *Conn) sendCloseFrame(code StatusCode, reason string, timeout time.Duration) error {
	if err := c.acquireWithin(lockFrame, timeout); err != nil {
		return c.writeAcquireError(err)
	}
	defer c.locks.unlock(lockFrame)
	// A frame that tryWriteMessage left half-written goes out first.
	if err := c.writableWithin(timeout); err != nil {
		return err
	}
	w := &c.wr
	var p [maxControlPayload]byte
	payload := appendClosePayload(p[:0], code, reason)
	h := header{fin: true, op: opClose, length: int64(len(payload))}
	if !c.server {
		h.masked = true
		h.key = w.newMaskKey()
	}
	pooled := writeBufPool.Get().(*[writeBufferSize]byte)
	defer writeBufPool.Put(pooled)
	b := appendHeader(pooled[:0], h)
	b = append(b, payload...)
	if h.masked {
		maskBytes(h.key, b[len(b)-len(payload):])
	}
	if n, err := c.writeBounded(b, timeout); err != nil {
		return c.writeFailed(n > 0, err)
	}
	return nil
}

// acquireWithin takes lock, giving up after timeout (with
// context.DeadlineExceeded, as a write under a context would) or when the
// connection closes. A free lock costs no timer.
func (c *Conn) acquireWithin(lock uint32, timeout time.Duration) error {
	if c.locks.tryLock(lock) {
		return nil
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	switch c.locks.lock(lock, nil, timer.C, c.doneChan()) {
	case lockTaken:
		return nil
	case lockTimedOut:
		return context.DeadlineExceeded
	}
	return ErrClosed
}

// Abort sends a close frame with code and reason, without waiting for the
// peer's answer, and closes the TCP connection. It is for peers that are
// gone or misbehaving (a ping timeout, a send queue the peer does not
// drain), where waiting for the closing handshake would only hold
// resources. Sending the frame waits at most a second. If the frame went
// out, the connection ends with a FIN behind it; if the peer has stopped
// reading (the frame could not be written in that second, or the kernel
// holds bytes it cannot send), the connection is reset instead, which
// releases the socket and its buffers at once (doc.go, "Ending
// connections").
func (c *Conn) abort(code StatusCode, reason string) error {
	code, err := sendableCode(code)
	if err != nil {
		return err
	}
	var werr error
	if c.flags.set(flagCloseSent) {
		werr = c.sendCloseFrame(code, reason, failWriteTimeout)
	}
	c.closeTCP(endingAfter(werr))
	return nil
}
