package websocket

import "time"

// keepalive pings the peer when its interval has passed and aborts the
// connection when the oldest unanswered ping is older than the timeout
// (Tornado closes with 1000 "ping timed out" too). It also releases the
// compressor of a connection that has been quiet for a while.
func (s *Session) keepalive(now time.Time) {
	n := now.UnixNano()
	s.handOffSlowInline(n)
	s.parkIfQuiet(n)
	s.flusherQuiet()
	if c := s.conn.Load(); c.Compressed() && n-s.lastSend.Load() > int64(compressorIdleTime) {
		c.releaseIdleCompressor()
	}
	if s.sendStalled(n) {
		return
	}
	cfg := s.config()
	if cfg.pingInterval <= 0 {
		return
	}
	if s.inboxWait.Load() || s.hasFlag(stateInline) {
		// The reader waits for OnMessage to catch up, or runs it, so a
		// pong may be unread: the delay is ours, not the peer's.
		if s.pingPending.Load() != 0 {
			s.pingPending.Store(n)
		}
		return
	}
	if p := s.pingPending.Load(); p != 0 && n-p > int64(cfg.pingTimeout) {
		if s.setFlag(stateTimedOut) {
			cfg.logger.Info("websocket: ping timed out", "timeout", cfg.pingTimeout)
			s.mu.Lock()
			s.closing = true
			s.abortLocked(StatusNormalClosure, "ping timed out")
			s.mu.Unlock()
		}
		return
	}
	if n < s.nextPing.Load() {
		return
	}
	s.nextPing.Store(n + int64(cfg.pingInterval))
	s.pingPending.CompareAndSwap(0, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	s.queue = append(s.queue, sendItem{ping: []byte{}})
	s.enqueued++
	s.startFlusherLocked()
}
