package websocket

import (
	"context"
	"fmt"
	"net"
	"runtime/debug"
	"time"

	"github.com/tornago/tornago/internal/stack"
)

// Reading. A connection's reader is not a goroutine for life: it reads
// while messages come, and when the connection goes quiet it parks in the
// group's poller and its goroutine exits, to be started
// again when bytes arrive. At many thousand idle connections this is
// most of the memory saved: a parked goroutine keeps a stack of several
// KiB, a parked connection only its structures.
//
// Parking costs a few microseconds per wake-up, so a connection whose
// messages arrive close together keeps its reader blocked in the read
// instead; the keepalive goroutine parks it once it has been quiet for
// parkQuietAfter. A new connection starts that way too, reading at once
// rather than parked: most send soon (a first message, or the close of a
// client that reconnects), and a read that waits in Go's own network
// poller costs none of parking's system calls and thread wake-ups, which
// were most of what a session added to a handshake.

// busyGap is the gap between two messages under which the reader stays in
// the read rather than parking: the connection is busy, and parking
// between every pair of its messages would cost more than the goroutine.
const busyGap = 20 * time.Millisecond

// parkQuietAfter is how long a reader blocked in a read may go without a
// message before the keepalive goroutine parks it.
const parkQuietAfter = time.Second

// setupReading decides how conn's reader runs; Start calls it before
// anything (the keepalive goroutine included) can look at it.
func (s *Session) setupReading(conn *Conn) {
	s.readFn = s.readOnNewGoroutine
	// The poller can wait only for plain sockets (not TLS).
	switch conn.NetConn().(type) {
	case *net.TCPConn, *net.UnixConn:
		s.parkable = s.group.poller != nil
	}
}

// readOnNewGoroutine is readLoop on a goroutine started for it (by Start,
// and by the poller for each wake): such a goroutine's 2 KiB stack always
// grows on the read path, so it grows here, before the first call, where
// the runtime has two frames to copy instead of a dozen.
func (s *Session) readOnNewGoroutine() {
	stack.Grow()
	s.readLoop()
}

// readLoop reads messages and hands them to the dispatcher until the
// connection ends (then it runs the end of the lifecycle) or it parks
// (then it returns, and runs again when there is something to read).
func (s *Session) readLoop() {
	conn := s.conn.Load()
	defer func() {
		if p := recover(); p != nil {
			s.config().logger.Error("websocket: panic serving a WebSocket", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			conn.CloseNow()
			s.finishReading()
		}
	}()
	var buf *[]byte // a pooled message buffer, with SetReuseMessageBuffers
	for {
		if s.config().reuseBuffers && buf == nil {
			buf = s.group.messageBuffer()
		}
		s.beginRead()
		typ, data, err := conn.ReadMessageInto(context.Background(), bufferOf(buf))
		interrupt := s.endRead()
		if err != nil {
			// buf is not put back: an interrupted read resumes into it.
			if isTimeout(err) {
				// The session sets no deadline of its own: the read was
				// interrupted. The dispatcher found bytes waiting
				// (session_nudge.go): read them. Or the keepalive
				// goroutine found the read waiting too long: park, or
				// read on if bytes are at hand.
				if interrupt == interruptNudge || !s.park() {
					continue
				}
				return
			}
			if buf != nil {
				// The connection is over: nothing will resume into it.
				s.group.putMessageBuffer(buf, *buf)
			}
			s.logEnd(err)
			break
		}
		s.alive()
		closeBehind := s.stampMessage(time.Now().UnixNano())
		it := inboxItem{m: Message{Data: data, Binary: typ == BinaryMessage}, buf: buf}
		buf = nil
		ran, handedOff := s.onMessageInline(it)
		if handedOff {
			// A new goroutine reads now; this one was the dispatcher.
			return
		}
		if !ran {
			s.deliver(it)
		}
		// After a message close behind the previous one more may
		// follow: read on rather than park.
		if !closeBehind && s.park() {
			return
		}
	}
	s.finishReading()
}

// finishReading ends the lifecycle once reading is over: the connection
// is closed, OnMessage has had every message received, OnClose runs, and
// the session leaves its group.
func (s *Session) finishReading() {
	s.setBusy(false)
	s.end()
	s.dispatchWG.Wait()
	s.callOnClose()
	s.group.remove(s)
}

// stampMessage records that a message arrived at now (UnixNano) and
// reports whether it came within busyGap of the previous one.
func (s *Session) stampMessage(now int64) (closeBehind bool) {
	prev := s.lastMessage.Swap(now)
	return prev != 0 && now-prev < int64(busyGap)
}

// park waits for the connection's next bytes in the poller and reports
// whether it did; if not, the caller reads.
func (s *Session) park() bool {
	s.setBusy(false)
	if !s.parkable {
		return false
	}
	return s.group.poller.Wait(s.conn.Load(), s.readFn)
}

// beginRead and endRead bracket a blocking read, so that the keepalive
// goroutine can tell a reader that has waited long enough to park, and
// the dispatcher one that waits while bytes are at hand.
func (s *Session) beginRead() {
	s.readMu.Lock()
	s.reading = true
	s.readMu.Unlock()
}

// endRead ends the bracket and reports who interrupted the read, if
// anyone asked to.
func (s *Session) endRead() readInterrupt {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	s.reading = false
	by := s.interrupt
	if by != interruptNone {
		// Undo the interruption, whether or not it struck this read.
		s.interrupt = interruptNone
		s.conn.Load().restoreReadDeadline()
	}
	return by
}

// readInterrupt says who interrupted a session's read, under readMu.
type readInterrupt uint8

const (
	interruptNone  readInterrupt = iota
	interruptPark                // the keepalive goroutine: the reader should park
	interruptNudge               // the dispatcher: bytes are waiting (session_nudge.go)
)

// interruptRead interrupts the reader's read, if it is in one that
// nobody interrupted yet and the session is not closing: a closing
// handshake may be reading for the peer's close frame while our reader
// waits for its turn, and a deadline now would cut that read short.
func (s *Session) interruptRead(by readInterrupt) {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return
	}
	s.readMu.Lock()
	defer s.readMu.Unlock()
	if s.reading && s.interrupt == interruptNone {
		s.interrupt = by
		s.conn.Load().interruptRead()
	}
}

// parkIfQuiet interrupts a read that has waited parkQuietAfter for a
// message, so that its reader parks; the keepalive goroutine calls it.
func (s *Session) parkIfQuiet(now int64) {
	if now-s.lastMessage.Load() < int64(parkQuietAfter) {
		return
	}
	s.setBusy(false)
	if !s.parkable {
		return
	}
	s.interruptRead(interruptPark)
}

// bufferOf returns the slice a pooled buffer holds, nil for none.
func bufferOf(buf *[]byte) []byte {
	if buf == nil {
		return nil
	}
	return *buf
}
