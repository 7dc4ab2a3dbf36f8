package websocket

// Nudging the reader. A peer that sends in bursts (a publisher keeping
// several messages in flight) meets this: the reader hands the first
// message of a burst to the dispatcher, finds nothing more yet, and waits
// in Go's network poller. The rest of the burst arrives while OnMessage
// handles the first, but the reader learns of it only when the scheduler
// next polls the network, which it does once no goroutine is runnable:
// after every flusher that OnMessage woke (a broadcast's, one per member)
// has written the first message alone. The burst goes out in two rounds
// of system calls instead of one, and since its second half is released
// by the peer together, every later burst splits the same way.
//
// So when the dispatcher has emptied the inbox, it asks the socket
// whether bytes wait unread (rawUnreadBytes: an ioctl, no read), and if
// they do it interrupts the reader's wait as parking does, with a
// deadline in the past. The reader reads them at once, before the
// flushers run, and the dispatcher adds them to the same round: each
// flusher then writes the whole burst in one system call (BENCHMARKS.md,
// broadcast). A batch right after such a read finds nothing more, so
// every other check comes up empty even then; a connection whose messages
// come one at a time (a request, then its reply) finds nothing every
// time, and once nudgeMissesBeforeSkip checks in a row have found nothing
// the dispatcher skips batches before the next check: twice as many
// after each further empty one, up to maxNudgeSkip. A check that finds
// bytes starts over.

const (
	// nudgeMissesBeforeSkip is how many empty checks in a row make the
	// dispatcher start skipping batches.
	nudgeMissesBeforeSkip = 4
	// maxNudgeSkip bounds the batches skipped between two checks.
	maxNudgeSkip = 128
)

// nudgeReader runs on the dispatcher when it has emptied the inbox.
func (s *Session) nudgeReader() {
	if s.nudgeSkip > 0 {
		s.nudgeSkip--
		return
	}
	c := s.conn.Load()
	if c == nil || c.raw == nil || rawUnreadBytes(c.raw) == 0 {
		if s.nudgeMisses < 255 {
			s.nudgeMisses++
		}
		if n := int(s.nudgeMisses) - nudgeMissesBeforeSkip; n >= 0 {
			s.nudgeSkip = uint8(min(1<<min(n, 7), maxNudgeSkip))
		}
		return
	}
	s.nudgeMisses = 0
	s.interruptRead(interruptNudge)
}
