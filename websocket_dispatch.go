package tornago

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/tornago/tornago/websocket"
)

// minInboxBytes is the least the inbox may hold before the reader waits
// for OnMessage to catch up; it is at least one maximum-size message.
const minInboxBytes = 1 << 20

// deliver queues m for OnMessage, starting a dispatcher when none runs.
// When OnMessage falls behind by more than the inbox bound the reader
// waits here, which pushes back on the peer through TCP; until then the
// reader keeps reading, so pings are answered while OnMessage works.
func (s *wsState) deliver(m Message, hooks webSocketHooks) {
	limit := max(s.maxMessageSize, minInboxBytes)
	s.inMu.Lock()
	defer s.inMu.Unlock()
	for !s.stopped && s.inboxBytes > 0 && s.inboxBytes+int64(len(m.Data)) > limit {
		s.inSpace.Wait()
	}
	if s.stopped {
		return
	}
	s.inbox = append(s.inbox, m)
	s.inboxBytes += int64(len(m.Data))
	if !s.dispatching {
		s.dispatching = true
		s.dispatchWG.Add(1)
		startDispatcher(dispatchJob{s: s, hooks: hooks})
	}
}

// dispatchJob is a connection whose inbox needs a dispatcher.
type dispatchJob struct {
	s     *wsState
	hooks webSocketHooks
}

// dispatchWork hands jobs to idle dispatcher goroutines. A connection's
// dispatcher exits when its inbox is empty, which in a request-response
// exchange is after every message; starting a goroutine each time would
// also mean growing its stack each time for OnMessage's writes. So a
// dispatcher that runs out of work waits a little for another connection's
// (or the same one's) next job, shared by every connection: at most as many
// goroutines as were busy at once, and none once all have been idle for
// dispatcherIdle.
var dispatchWork = make(chan dispatchJob)

// dispatcherIdle is how long an idle dispatcher goroutine waits for work
// before it exits.
const dispatcherIdle = 100 * time.Millisecond

// startDispatcher gives job to an idle dispatcher goroutine, or starts one.
func startDispatcher(job dispatchJob) {
	select {
	case dispatchWork <- job:
	default:
		go dispatcher(job)
	}
}

// dispatcher runs jobs until none comes for dispatcherIdle.
func dispatcher(job dispatchJob) {
	idle := time.NewTimer(dispatcherIdle)
	defer idle.Stop()
	for {
		job.s.dispatch(job.hooks)
		job = dispatchJob{}
		idle.Reset(dispatcherIdle)
		select {
		case job = <-dispatchWork:
		case <-idle.C:
			return
		}
	}
}

// dispatch calls OnMessage for queued messages in order and exits when
// the inbox is empty.
func (s *wsState) dispatch(hooks webSocketHooks) {
	defer s.dispatchWG.Done()
	for {
		s.inMu.Lock()
		if len(s.inbox) == 0 || s.stopped {
			s.inbox = s.inbox[:0]
			s.dispatching = false
			s.inMu.Unlock()
			return
		}
		m := s.inbox[0]
		s.inbox[0] = Message{}
		if len(s.inbox) == 1 {
			// Emptied: the array is kept from its start, so that a
			// connection taking one message at a time appends without
			// allocating.
			s.inbox = s.inbox[:0]
		} else {
			s.inbox = s.inbox[1:]
		}
		s.inboxBytes -= int64(len(m.Data))
		s.inSpace.Signal()
		s.inMu.Unlock()
		if err := s.onMessage(hooks, m); err != nil {
			s.logger.Error("tornago: OnMessage failed; closing with 1011", "error", err)
			s.inMu.Lock()
			s.stopped = true
			s.inSpace.Broadcast()
			s.inMu.Unlock()
			s.close(websocket.StatusInternalError, "internal error")
		}
	}
}

// onMessage calls OnMessage, turning a panic into an error.
func (s *wsState) onMessage(hooks webSocketHooks, m Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return hooks.OnMessage(m)
}
