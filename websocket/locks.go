package websocket

import (
	"sync"
	"sync/atomic"
	"time"
)

// connLocks are a Conn's three locks (read, message, frame) in one small
// value. They were one-slot channels, which can be waited for in a select
// with a context or a timer; three channels cost 288 bytes per
// connection, a seventh of an idle one. Here the locks are bits of one
// word, and a channel exists only while someone waits: a lock taken
// without contention, by far the usual case, is one compare-and-swap.
type connLocks struct {
	held    atomic.Uint32 // lockRead | lockMessage | lockFrame
	waiters atomic.Int32  // goroutines waiting for any of them
	mu      sync.Mutex    // guards wake
	// wake is closed when a lock is released while someone waits; every
	// waiter then tries again. Waiters are rare (a Close meeting a reader,
	// two writers at once) and few, so waking them all is cheap.
	wake chan struct{}
}

// The locks.
const (
	// lockRead is held by the goroutine reading frames: a ReadMessage or
	// NextReader, the closing handshake reading the peer's close frame,
	// or a poller wait looking at the read buffer.
	lockRead uint32 = 1 << iota
	// lockMessage is held for a whole data message, lockFrame for one
	// frame, so that control frames can go out between the frames of a
	// long message written in parts.
	lockMessage
	lockFrame
)

// tryLock takes lock if it is free and reports whether it did.
func (l *connLocks) tryLock(lock uint32) bool {
	for {
		old := l.held.Load()
		if old&lock != 0 {
			return false
		}
		if l.held.CompareAndSwap(old, old|lock) {
			return true
		}
	}
}

// isLocked reports whether lock is held now.
func (l *connLocks) isLocked(lock uint32) bool { return l.held.Load()&lock != 0 }

// unlock releases lock, which the caller holds.
func (l *connLocks) unlock(lock uint32) {
	l.held.And(^lock)
	// A waiter counts itself before its last try, so either that try
	// sees the lock free or this sees the waiter.
	if l.waiters.Load() > 0 {
		l.mu.Lock()
		if l.wake != nil {
			close(l.wake)
			l.wake = nil
		}
		l.mu.Unlock()
	}
}

// Why a wait for a lock ended without it.
const (
	lockTaken    = iota
	lockStopped  // stop was closed (a context ended)
	lockTimedOut // timeout fired
	lockClosed   // done was closed (the connection ended)
)

// lock takes lock, waiting until it is free, stop or done is closed, or
// timeout fires (nil channels never do), and reports which came first.
func (l *connLocks) lock(lock uint32, stop <-chan struct{}, timeout <-chan time.Time, done <-chan struct{}) int {
	for {
		if l.tryLock(lock) {
			return lockTaken
		}
		l.mu.Lock()
		if l.wake == nil {
			l.wake = make(chan struct{})
		}
		wake := l.wake
		l.waiters.Add(1)
		l.mu.Unlock()
		if l.tryLock(lock) {
			l.waiters.Add(-1)
			return lockTaken
		}
		why := lockTaken // woken: try again
		select {
		case <-wake:
		case <-stop:
			why = lockStopped
		case <-timeout:
			why = lockTimedOut
		case <-done:
			why = lockClosed
		}
		l.waiters.Add(-1)
		if why != lockTaken {
			return why
		}
	}
}

// lockNow takes lock, waiting as long as it takes; for holders that give
// it back promptly (on a closed connection, every holder does).
func (l *connLocks) lockNow(lock uint32) { l.lock(lock, nil, nil, nil) }
