package websocket

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// inboxItemCost is what an inbox entry counts beyond its data, so that a
// flood of empty messages fills the inbox too.
const inboxItemCost = 64

// deliver queues m for OnMessage, starting a dispatcher when none runs.
// When OnMessage falls behind by more than the inbox bound
// (SessionOptions.InboxSize) the reader waits here, which pushes back
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
	for !s.stopped && s.inboxBytes > 0 && s.inboxBytes+cost > s.inboxSize {
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
		err := s.onMessage(it.m)
		if it.buf != nil {
			s.group.putMessageBuffer(it.buf, it.m.Data)
		}
		if err != nil && errors.Is(err, ErrClosed) { // ErrSendQueueFull included
			// A write found the connection already closing (the peer
			// closed, or it was closed for falling behind): not a failure
			// of the handler, and the close under way stands. The
			// messages left still reach OnMessage, as they do when the
			// peer closes after sending them.
			s.logger.Debug("websocket: OnMessage wrote to a closing session", "error", err)
			continue
		}
		if err != nil {
			s.logger.Error("websocket: OnMessage failed; closing with 1011", "error", err)
			s.inMu.Lock()
			s.stopped = true
			s.inWake.Broadcast()
			s.inMu.Unlock()
			s.close(StatusInternalError, "internal error")
		}
	}
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
