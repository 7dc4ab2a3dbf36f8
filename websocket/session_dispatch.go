package websocket

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// inboxItemCost is what an inbox entry counts beyond its data, so that a
// flood of empty messages fills the inbox too.
const inboxItemCost = 64

// deliver queues m for OnMessage, starting a dispatcher when none runs;
// the reader calls it when it cannot run OnMessage itself
// (onMessageInline). When OnMessage falls behind by more than the inbox
// bound (SessionOptions.InboxSize) the reader waits here, which pushes back
// on the peer through TCP; until then the reader keeps reading, so pings
// are answered while OnMessage works.
//
// While messages flow, the dispatcher lingers for the next one instead
// of exiting: a goroutine started per message costs more than the
// message (its stack grows on the write path every time). The reader
// lets it go when the connection turns quiet (setBusy), or the keepalive
// goroutine does once it has been quiet a while; without that goroutine
// (no poller, no pings) the dispatcher does not linger.
func (s *Session) deliver(it inboxItem) {
	cost := int64(len(it.m.Data)) + inboxItemCost
	s.inMu.Lock()
	defer s.inMu.Unlock()
	for !s.stopped && s.inboxBytes > 0 && s.inboxBytes+cost > s.config().inboxSize {
		s.inboxWait.Store(true)
		s.inWake.Wait()
		s.inboxWait.Store(false)
	}
	if s.stopped {
		return
	}
	s.inbox = append(s.inbox, it)
	s.inboxBytes += cost
	s.busy = s.canLinger
	switch {
	case !s.dispatching:
		s.dispatching = true
		s.dispatchWG.Add(1)
		go s.dispatch()
	case s.lingering:
		s.inWake.Signal()
	}
}

// setBusy says whether messages are flowing; when they stop, a lingering
// dispatcher exits.
func (s *Session) setBusy(busy bool) {
	s.inMu.Lock()
	s.busy = busy
	if !busy && s.lingering {
		s.inWake.Signal()
	}
	s.inMu.Unlock()
}

// inboxItem is a received message waiting for OnMessage, with the pooled
// buffer it was read into (ReuseMessageBuffers), which goes back to the
// pool once OnMessage has returned.
type inboxItem struct {
	m   Message
	buf *[]byte
}

// dispatch calls OnMessage for queued messages in order and exits when
// the inbox is empty and messages are not flowing (see deliver).
func (s *Session) dispatch() {
	defer s.dispatchWG.Done()
	handled := false // a message since the inbox was last found empty
	for {
		s.inMu.Lock()
		if handled && len(s.inbox) == 0 && s.busy && !s.stopped {
			// A batch is done: bytes that came meanwhile join it
			// (session_nudge.go).
			handled = false
			s.inMu.Unlock()
			s.nudgeReader()
			s.inMu.Lock()
		}
		for len(s.inbox) == 0 && s.busy && !s.stopped {
			s.lingering = true
			s.inWake.Wait()
			s.lingering = false
		}
		if len(s.inbox) == 0 || s.stopped {
			// The connection went quiet (or OnMessage failed): a quiet
			// connection keeps no inbox array.
			clear(s.inbox)
			s.inbox = nil
			s.dispatching = false
			s.inMu.Unlock()
			return
		}
		it := s.inbox[0]
		s.inbox[0] = inboxItem{}
		if len(s.inbox) == 1 {
			// Emptied: the array is kept from its start, so that a
			// connection taking one message at a time appends without
			// allocating.
			s.inbox = s.inbox[:0]
		} else {
			s.inbox = s.inbox[1:]
		}
		s.inboxBytes -= int64(len(it.m.Data)) + inboxItemCost
		s.inWake.Signal()
		s.inMu.Unlock()
		handled = true
		s.handle(it)
	}
}

// handle calls OnMessage with one message, gives its pooled buffer back,
// and stops the session if OnMessage failed.
func (s *Session) handle(it inboxItem) {
	err := s.onMessage(it.m)
	if it.buf != nil {
		s.group.putMessageBuffer(it.buf, it.m.Data)
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrClosed): // ErrSendQueueFull included
		// A write found the connection already closing (the peer closed,
		// or it was closed for falling behind): not a failure of the
		// handler, and the close under way stands. The messages left
		// still reach OnMessage, as they do when the peer closes after
		// sending them.
		s.config().logger.Debug("websocket: OnMessage wrote to a closing session", "error", err)
	default:
		s.config().logger.Error("websocket: OnMessage failed; closing with 1011", "error", err)
		s.inMu.Lock()
		s.stopped = true
		s.inWake.Broadcast()
		s.inMu.Unlock()
		s.close(StatusInternalError, "internal error")
	}
}

// inlineHandOffAfter is how long OnMessage may run on the reader's
// goroutine before the keepalive goroutine, at its next tick, hands the
// reading to a new goroutine.
const inlineHandOffAfter = 50 * time.Millisecond

// onMessageInline runs OnMessage on the reader's goroutine when no
// dispatcher runs, and reports whether it did (if not, the caller
// delivers the message). Handing a message to the dispatcher goroutine
// costs a goroutine switch each way and the inbox's lock and condition
// variable, about a microsecond per message in an echo.
//
// The reader does not read while OnMessage runs here. So that a slow
// OnMessage still has the peer's pings answered and its close seen, the
// keepalive goroutine hands the reading to a new goroutine once
// OnMessage has run inlineHandOffAfter (handOffSlowInline), within a
// keepalive tick; this goroutine then finishes as the dispatcher, which
// keeps the messages in order (handedOff reports that: the caller must
// stop reading). Without a keepalive goroutine (canLinger) there is no
// one to hand off, and the dispatcher takes every message.
func (s *Session) onMessageInline(it inboxItem) (ran, handedOff bool) {
	s.inMu.Lock()
	if !s.canLinger || s.dispatching || s.stopped {
		s.inMu.Unlock()
		return false, false
	}
	s.dispatching = true
	s.setFlag(stateInline)
	s.inMu.Unlock()
	s.handle(it)
	s.inMu.Lock()
	s.clearFlag(stateInline)
	if s.clearFlag(stateHandedOff) {
		s.inMu.Unlock()
		s.dispatch() // counted in dispatchWG by the hand-off
		return true, true
	}
	s.dispatching = false
	s.inMu.Unlock()
	return true, false
}

// handOffSlowInline starts a new reader for a session whose reader has
// been running OnMessage (onMessageInline) since before now minus
// inlineHandOffAfter; the keepalive goroutine calls it.
func (s *Session) handOffSlowInline(now int64) {
	if !s.hasFlag(stateInline) || now-s.lastMessage.Load() < int64(inlineHandOffAfter) {
		return
	}
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if !s.hasFlag(stateInline) || !s.setFlag(stateHandedOff) {
		return
	}
	// The old reader, a dispatcher once OnMessage returns, lingers for
	// what the new one reads until the connection turns quiet.
	s.busy = true
	s.dispatchWG.Add(1)
	go s.readOnNewGoroutine()
}

// onMessage calls OnMessage, turning a panic into an error.
func (s *Session) onMessage(m Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return s.events.OnMessage(m)
}
