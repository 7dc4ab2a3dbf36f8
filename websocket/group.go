package websocket

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Group holds a server's sessions: it tracks them, which
// http.Server.Shutdown cannot do once their connections are hijacked, so
// that Shutdown can close them all; it runs the one keepalive goroutine
// that serves every session's timers (no timer or goroutine per
// connection); and it owns the poller where quiet sessions' readers park
// and the pool of message buffers. The zero value is ready to use; a
// Group must not be copied after first use.
type Group struct {
	mu      sync.Mutex
	conns   map[*Session]struct{}
	closing bool

	// poller holds the readers of quiet sessions (session_read.go); nil
	// where the platform has none.
	poller *Poller

	// msgBufs holds *[]byte message buffers for ReuseMessageBuffers.
	msgBufs sync.Pool

	// The keepalive goroutine runs while some connection pings.
	kaRunning bool
	kaTick    time.Duration
	kaWake    chan struct{}
	kaStop    chan struct{}
	kaWG      sync.WaitGroup
}

// minKeepaliveTick bounds how often the keepalive goroutine wakes.
const minKeepaliveTick = 5 * time.Millisecond

// compressorIdleTime is how long a compressing connection may stay
// without sending before its compressor (most of a megabyte with context
// takeover) goes back to the pool; the keepalive goroutine checks it.
const compressorIdleTime = 2 * time.Second

// ErrGroupClosed is returned by NewSession once the group's Shutdown has
// begun.
var ErrGroupClosed = errors.New("websocket: group shutting down")

// add registers a session being opened; during shutdown it refuses.
func (r *Group) add(s *Session) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return ErrGroupClosed
	}
	if r.conns == nil {
		r.conns = map[*Session]struct{}{}
		if PollerSupported {
			r.poller = NewPoller()
		}
	}
	r.conns[s] = struct{}{}
	return nil
}

// remove unregisters a session whose lifecycle (OnClose included) is
// over, which releases a Shutdown waiting for it.
func (r *Group) remove(s *Session) {
	r.mu.Lock()
	delete(r.conns, s)
	r.mu.Unlock()
	close(s.done)
}

// startKeepalive makes sure the keepalive goroutine runs and wakes often
// enough for a ping interval or send timeout (or once a second, for
// compressor release and parking).
func (r *Group) startKeepalive(interval time.Duration) {
	tick := time.Second
	if interval > 0 {
		tick = min(tick, max(interval/4, minKeepaliveTick))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return
	}
	if r.kaRunning {
		if tick < r.kaTick {
			r.kaTick = tick
			select {
			case r.kaWake <- struct{}{}:
			default:
			}
		}
		return
	}
	r.kaRunning = true
	r.kaTick = tick
	r.kaWake = make(chan struct{}, 1)
	r.kaStop = make(chan struct{})
	r.kaWG.Add(1)
	go r.keepalive(tick, r.kaWake, r.kaStop)
}

// keepalive pings the connections that are due and closes those whose
// ping went unanswered; it exits when no connection needs it.
func (r *Group) keepalive(tick time.Duration, wake, stop chan struct{}) {
	defer r.kaWG.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	var due []*Session
	for {
		select {
		case <-stop:
			return
		case <-wake:
			r.mu.Lock()
			t.Reset(r.kaTick)
			r.mu.Unlock()
			continue
		case now := <-t.C:
			due = due[:0]
			r.mu.Lock()
			for s := range r.conns {
				// Settings are final once the connection is stored.
				if s.needsKeepalive() {
					due = append(due, s)
				}
			}
			if len(due) == 0 {
				r.kaRunning = false
				r.mu.Unlock()
				return
			}
			r.mu.Unlock()
			for _, s := range due {
				s.keepalive(now)
			}
			clear(due)
		}
	}
}

// Shutdown closes every session with 1001 "server shutting down" after
// what is queued for it (a session not started yet gets its close right
// after Start), refuses new ones (NewSession fails with ErrGroupClosed),
// waits until each one's OnClose has run, and stops the keepalive. When
// ctx ends first, the rest are dropped without the closing handshake and
// ctx's error is returned: CloseNow ends each with a FIN behind what was
// written, so a close frame already sent (1001, or the session's own)
// still reaches the peer, and resets only a connection whose peer has
// stopped reading.
func (r *Group) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.closing = true
	list := make([]*Session, 0, len(r.conns))
	for s := range r.conns {
		list = append(list, s)
	}
	if r.kaRunning {
		close(r.kaStop)
		r.kaRunning = false
	}
	r.mu.Unlock()
	r.kaWG.Wait()

	for _, s := range list {
		s.closeForShutdown(StatusGoingAway, "server shutting down")
	}
	// Parked readers are woken by their connections' closing; the
	// poller's goroutine is not needed after them.
	if r.poller != nil {
		defer r.poller.Close()
	}
	for i, s := range list {
		select {
		case <-s.done:
		case <-ctx.Done():
			for _, rest := range list[i:] {
				if c := rest.conn.Load(); c != nil {
					c.CloseNow()
				}
			}
			return ctx.Err()
		}
	}
	return nil
}

// maxPooledMessage is the largest message buffer kept for reuse; larger
// messages are rare enough to allocate.
const maxPooledMessage = 1 << 20

// messageBuffer takes a message buffer from the pool.
func (r *Group) messageBuffer() *[]byte {
	if b, ok := r.msgBufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

// putMessageBuffer gives buf back once the message read into it, data,
// has been handled; data's array replaces buf's when the message did not
// fit and is not too large to keep.
func (r *Group) putMessageBuffer(buf *[]byte, data []byte) {
	if cap(data) > cap(*buf) {
		if cap(data) > maxPooledMessage {
			r.msgBufs.Put(buf)
			return
		}
		*buf = data[:0]
	}
	r.msgBufs.Put(buf)
}
