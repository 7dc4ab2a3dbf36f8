package websocket

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Send sends data to the peer as a message of type typ (text must be
// valid UTF-8). It never waits for the network, so a slow peer never
// blocks the caller; Flush waits. When nothing is queued before it, it
// writes the message to the socket at once, and a message the socket
// takes whole is neither copied nor queued; otherwise what the socket did
// not take is copied into the send queue and sent from there. Sends
// before Serve or Start go out right after it.
//
// It fails with an error matching ErrClosed once the session is closing,
// and with ErrSendQueueFull (after which the connection is closed with
// 1008) when the queue would exceed its size.
func (s *Session) Send(typ MessageType, data []byte) error { return s.write(typ, data) }

// SendPrepared queues a message encoded once for many connections; it
// shares pm's bytes instead of copying them. Unlike Send it always goes
// through the send queue: a fan-out hands every session many messages in
// a burst, and the session's flusher then writes all that are waiting in
// one system call, where writing each at once would make one system call
// per message and connection (BENCHMARKS.md, broadcast).
func (s *Session) SendPrepared(pm *PreparedMessage) error {
	return s.enqueue(sendItem{pm: pm}, pm.Size())
}

// Ping queues a ping with payload (at most 125 bytes); the pong arrives at
// SessionEvents.OnPong.
func (s *Session) Ping(payload []byte) error {
	if len(payload) > maxControlPayload {
		return fmt.Errorf("websocket: ping payload of %d bytes exceeds %d", len(payload), maxControlPayload)
	}
	return s.enqueue(sendItem{ping: append([]byte{}, payload...)}, len(payload))
}

// Flush waits until everything queued before the call has been handed to
// the operating system; after Close, that includes the close frame. It
// returns an error matching ErrClosed if the session ended first, ctx's
// error, or ErrNotStarted at once before Serve or Start.
func (s *Session) Flush(ctx context.Context) error { return s.flush(ctx) }

// Close starts the closing handshake with code and reason (code 0 sends a
// close frame without a code) after the messages already queued, and
// returns without waiting; OnClose follows when the connection is closed.
// Later sends fail with ErrClosed. Calling it again does nothing.
func (s *Session) Close(code StatusCode, reason string) error {
	if code != 0 && !code.Valid() {
		return fmt.Errorf("websocket: close code %d may not be sent", code)
	}
	s.close(code, reason)
	return nil
}

// sendItem is one entry of the send queue: a message or a ping.
type sendItem struct {
	pm   *PreparedMessage
	ping []byte
}

// write sends data as a message of type typ. With nothing queued and no
// flusher writing, it tries the socket first, holding mu so that no other
// write can get ahead of it or slip in before a remainder is queued; the
// attempt never blocks, since tryWriteMessage gives up rather than wait
// for the socket or for another writer. Anything else goes through the
// queue.
func (s *Session) write(typ MessageType, data []byte) error {
	s.mu.Lock()
	if c := s.conn.Load(); c != nil && (!s.flushing || s.flushIdle) && len(s.queue) == 0 && !s.closing && !s.ended && s.closeReq == nil {
		pending, err := c.tryWriteMessage(typ, data)
		switch {
		case err == nil:
			s.enqueued++
			if pending == 0 {
				s.sent++
			} else {
				// The socket took part of the frame and the core keeps the
				// rest, which goes out before any other frame; the flusher
				// makes sure it does even if nothing follows.
				s.queue = append(s.queue, pendingItem)
				s.queued += pending
				s.markFlowingLocked()
				s.startFlusherLocked()
			}
			s.mu.Unlock()
			return nil
		case errors.Is(err, ErrInvalidUTF8):
			s.mu.Unlock()
			return err
		case errors.Is(err, ErrClosed):
			// The connection broke or is closing; the reader ends it.
			s.closing = true
			s.mu.Unlock()
			return ErrClosed
		}
		// errWouldBlock: the socket or another writer is busy.
	}
	s.mu.Unlock()
	pm, err := NewPreparedMessage(typ, data)
	if err != nil {
		return err
	}
	return s.enqueue(sendItem{pm: pm}, pm.Size())
}

// pendingItem stands in the send queue for the rest of a frame the socket
// took in part, which the core holds: neither a message nor a ping (pings
// always have a non-nil payload). Its size in bytes is counted in queued.
var pendingItem = sendItem{}

func (it sendItem) isPending() bool { return it.pm == nil && it.ping == nil }

// enqueue adds an item of size bytes to the send queue.
func (s *Session) enqueue(it sendItem, size int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return ErrClosed
	}
	if s.queued > 0 && s.queued+size > s.sendQueueSize && s.conn.Load() == nil {
		// Before Start nothing can be sent yet; refusing the write is enough.
		return fmt.Errorf("websocket: sends before Start exceed the send queue of %d bytes", s.sendQueueSize)
	}
	if s.queued > 0 && s.queued+size > s.sendQueueSize {
		// The peer is not keeping up. Waiting would let one slow reader
		// hold up the writer (and a broadcast with it); dropping would lose
		// messages silently. So the connection goes, with a close code
		// that tells the peer why.
		s.closing = true
		s.config().logger.Warn("websocket: closing a slow peer: send queue overflow",
			"queued_bytes", s.queued, "limit", s.sendQueueSize)
		s.abortLocked(StatusPolicyViolation, "send queue overflow: peer too slow")
		return ErrSendQueueFull
	}
	s.queue = append(s.queue, it)
	s.queued += size
	s.enqueued++
	s.markFlowingLocked()
	s.startFlusherLocked()
	return nil
}

// closeForShutdown is close for Group.Shutdown: a session not started
// yet may finish its handshake, sends included, and is closed right after
// Start.
func (s *Session) closeForShutdown(code StatusCode, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.closeReq != nil {
		return
	}
	s.closeReq = &closeRequest{code: code, reason: reason}
	s.enqueued++ // the close frame, which Flush waits for too
	if s.conn.Load() != nil {
		s.closing = true
		s.startFlusherLocked()
	}
}

// close queues the closing handshake behind the queued messages.
func (s *Session) close(code StatusCode, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	s.closing = true
	s.closeReq = &closeRequest{code: code, reason: reason}
	s.enqueued++ // the close frame, which Flush waits for too
	s.startFlusherLocked()
}

// abortLocked closes the connection now, without the closing handshake's
// wait, on a goroutine of its own: Abort gives the lock, the rest of a
// frame the socket took in part, and the close frame a second each. The
// flusher drops what is still queued. Before the 101 it only marks the
// connection closing.
func (s *Session) abortLocked(code StatusCode, reason string) {
	c := s.conn.Load()
	if c == nil || s.ended {
		return
	}
	s.wakeFlusherLocked() // a lingering flusher exits: nothing more goes out
	s.workers.Add(1)
	go func() {
		defer s.workers.Done()
		c.abort(code, reason)
	}()
}

// startFlusherLocked starts a flusher, or wakes the one that lingers,
// if there is work and the connection is open.
func (s *Session) startFlusherLocked() {
	if s.ended || s.conn.Load() == nil {
		return
	}
	if len(s.queue) == 0 && s.closeReq == nil {
		return
	}
	if s.flushing {
		if s.flushIdle {
			s.lastSend.Store(time.Now().UnixNano()) // the send timeout counts from here
			s.wakeFlusherLocked()
		}
		return
	}
	s.flushing = true
	s.lastSend.Store(time.Now().UnixNano()) // the send timeout counts from here
	s.workers.Add(1)
	go s.flushLoop()
}

// The flusher lingers. While messages keep coming (a connection that
// receives a broadcast, say), the flusher waits for the next ones
// instead of exiting once the queue is empty: starting a goroutine per
// burst cost more than the burst's writes (its stack grows on the write
// path every time), as the dispatcher found (session_dispatch.go). The
// keepalive goroutine lets it go once nothing has been queued for a
// tick (flusherQuiet); without that goroutine it does not linger.
// Messages flow when a second one is queued within a tick (a burst, or a
// chat room's steady stream); a lone message, such as a notification,
// goes out and its flusher exits, and so does a keepalive ping (not
// counted), so that idle connections keep no goroutine between pings.

// markFlowingLocked counts a message queued.
func (s *Session) markFlowingLocked() {
	if s.sendsCounted < 255 {
		s.sendsCounted++
	}
}

// sendsFlowing reports whether messages are flowing; the caller holds mu.
func (s *Session) sendsFlowing() bool { return s.sendsCounted >= 2 }

// lingerLocked waits, with mu held (and released while waiting), for more
// to send, and reports whether the flusher should look at the queue
// again; false means it is time to exit.
func (s *Session) lingerLocked() bool {
	if !s.canLinger || !s.sendsFlowing() || s.closing || s.ended {
		return false
	}
	if s.flushWake == nil {
		s.flushWake = make(chan struct{}, 1)
	}
	wake := s.flushWake
	s.flushIdle = true
	s.mu.Unlock()
	<-wake
	s.mu.Lock()
	return true
}

// wakeFlusherLocked wakes a lingering flusher to look at the queue.
func (s *Session) wakeFlusherLocked() {
	if s.flushIdle {
		s.flushIdle = false
		select {
		case s.flushWake <- struct{}{}:
		default:
		}
	}
}

// flusherQuiet starts a new count of the messages queued, and lets a
// lingering flusher go when they did not flow since the last call; the
// keepalive goroutine calls it every tick.
func (s *Session) flusherQuiet() {
	s.mu.Lock()
	defer s.mu.Unlock()
	flowing := s.sendsFlowing()
	s.sendsCounted = 0
	if !flowing {
		s.wakeFlusherLocked()
	}
}

// maxWriteChunk bounds the frames the flusher hands the socket in one
// write (a larger frame goes alone), so that the send timeout sees a
// slow reader's progress.
const maxWriteChunk = 1 << 20

// sendStalled closes the connection with 1008 when something has waited
// to be sent for longer than the send timeout without the peer taking a
// write, and reports whether it did; the keepalive goroutine calls it.
// Only bytes are watched: a keepalive ping carries none, and a stalled
// ping is the ping timeout's to find.
func (s *Session) sendStalled(now int64) bool {
	cfg := s.config()
	if cfg.sendTimeout <= 0 || now-s.lastSend.Load() <= int64(cfg.sendTimeout) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.flushing || s.queued == 0 || s.ended || !s.setFlag(stateTimedOut) {
		return false
	}
	cfg.logger.Warn("websocket: closing a peer that stopped reading: send timeout",
		"queued_bytes", s.queued, "timeout", cfg.sendTimeout)
	s.closing = true
	s.abortLocked(StatusPolicyViolation, "send timeout: peer stopped reading")
	return true
}

// flushLoop writes the queue in batches until it is empty, then performs
// a requested close, then exits.
func (s *Session) flushLoop() {
	defer s.workers.Done()
	c := s.conn.Load()
	var frames []*PreparedMessage
	for {
		s.mu.Lock()
		if len(s.queue) > 0 && s.closing && s.closeReq == nil {
			// Closing without a close request: an abort, or the end. What
			// is still queued would only hold up the abort's close frame;
			// it is dropped, and Flush callers learn of it when the
			// connection ends. No batch is in flight, so nothing is queued.
			clear(s.queue)
			s.queue = s.queue[:0]
			s.queued = 0
			s.flushing = false
			s.mu.Unlock()
			return
		}
		if len(s.queue) == 0 {
			if s.closeReq == nil && s.lingerLocked() {
				s.mu.Unlock()
				continue
			}
			req := s.closeReq
			s.closeReq = nil
			if req == nil || s.ended {
				s.flushing = false
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
			// The frame first, so that Flush can report it written; then
			// the wait for the peer's close frame.
			if c.SendClose(req.code, req.reason) == nil {
				s.mu.Lock()
				s.sent++
				s.signalSentLocked()
				s.mu.Unlock()
			}
			c.Close(req.code, req.reason)
			continue
		}
		batch := s.queue
		s.queue, s.spare = s.spare[:0], nil
		pendingSize := 0
		if batch[0].isPending() {
			// A pending item is only ever queued first, into an empty
			// queue, so it opens the flusher's first batch, and queued
			// counts exactly this batch: the rest is its size.
			pendingSize = s.queued
			for _, it := range batch[1:] {
				pendingSize -= it.size()
			}
		}
		s.mu.Unlock()

		// Each write is a frame, a ping or at most maxWriteChunk bytes of
		// frames, and lastSend moves after each one, so that a peer that
		// reads slowly shows progress to the send timeout (sendStalled).
		size, err := 0, error(nil)
		for i := 0; i < len(batch) && err == nil; {
			switch {
			case batch[i].isPending():
				err = c.flushPending(context.Background())
				size += pendingSize
				i++
			case batch[i].pm == nil:
				err = c.Ping(context.Background(), batch[i].ping)
				size += len(batch[i].ping)
				i++
			default:
				frames = frames[:0]
				for chunk := 0; i < len(batch) && batch[i].pm != nil && chunk < maxWriteChunk; i++ {
					frames = append(frames, batch[i].pm)
					chunk += batch[i].pm.Size()
					size += batch[i].pm.Size()
				}
				err = c.writePreparedBatch(context.Background(), frames)
			}
			s.lastSend.Store(time.Now().UnixNano())
		}
		clear(frames)
		clear(batch)

		s.mu.Lock()
		s.queued -= size
		s.sent += uint64(len(batch))
		s.signalSentLocked()
		if s.spare == nil {
			s.spare = batch[:0]
		}
		if err != nil {
			// The connection is broken, or our close frame has gone out
			// (or is about to). A close or abort under way closes the TCP
			// connection itself once its frame is written, and closing it
			// here first would lose that frame; only an unexpected failure
			// is closed here. The reader sees it either way and ends it.
			closing := s.closing
			s.closing = true
			s.flushing = false
			s.mu.Unlock()
			if !closing {
				c.CloseNow()
			}
			return
		}
		s.mu.Unlock()
	}
}

// size is what the item counts in queued; 0 for a pending item.
func (it sendItem) size() int {
	if it.pm != nil {
		return it.pm.Size()
	}
	return len(it.ping)
}

// signalSentLocked wakes Flush callers.
func (s *Session) signalSentLocked() {
	if s.sentSignal != nil {
		close(s.sentSignal)
		s.sentSignal = nil
	}
}

// flush waits until the items queued so far have been written.
func (s *Session) flush(ctx context.Context) error {
	s.mu.Lock()
	if s.conn.Load() == nil && !s.ended {
		s.mu.Unlock()
		return ErrNotStarted
	}
	target := s.enqueued
	for s.sent < target {
		if s.ended {
			s.mu.Unlock()
			return ErrClosed
		}
		if s.sentSignal == nil {
			s.sentSignal = make(chan struct{})
		}
		ch := s.sentSignal
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
	}
	s.mu.Unlock()
	return nil
}

// Queued returns the bytes waiting in the send queue (with the rest of a
// frame the socket took in part), which a broadcaster can use to skip a
// peer that lags far behind. It is safe from any goroutine.
func (s *Session) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queued
}
