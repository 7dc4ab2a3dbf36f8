package tornago

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/tornago/tornago/websocket"
)

// socketRegistry tracks an Application's WebSocket connections, which
// http.Server.Shutdown cannot see once they are hijacked, and runs the
// one keepalive goroutine that pings all of them: no timer or goroutine
// per connection.
type socketRegistry struct {
	mu      sync.Mutex
	conns   map[*wsState]struct{}
	closing bool

	// poller holds the readers of quiet connections (websocket_read.go);
	// nil where the platform has none.
	poller *websocket.Poller

	// msgBufs holds *[]byte message buffers for SetReuseMessageBuffers.
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

// add registers a connection being opened; during shutdown it refuses
// with 503.
func (r *socketRegistry) add(s *wsState) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return HTTPError{Code: http.StatusServiceUnavailable, Message: "server shutting down"}
	}
	if r.conns == nil {
		r.conns = map[*wsState]struct{}{}
		if websocket.PollerSupported {
			r.poller = websocket.NewPoller()
		}
	}
	r.conns[s] = struct{}{}
	return nil
}

// remove unregisters a connection whose lifecycle (OnClose included) is
// over, which releases a Shutdown waiting for it.
func (r *socketRegistry) remove(s *wsState) {
	r.mu.Lock()
	delete(r.conns, s)
	r.mu.Unlock()
	close(s.done)
}

// startKeepalive makes sure the keepalive goroutine runs and wakes often
// enough for a ping interval or send timeout (or once a second, for
// compressor release and parking).
func (r *socketRegistry) startKeepalive(interval time.Duration) {
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
func (r *socketRegistry) keepalive(tick time.Duration, wake, stop chan struct{}) {
	defer r.kaWG.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	var due []*wsState
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

// shutdown closes every connection with 1001 after what is queued for it,
// waits until each one's OnClose has run, and stops the keepalive. When
// ctx ends first, the rest are dropped without the closing handshake:
// CloseNow ends each with a FIN behind what was written, so a close frame
// already sent (1001, or the handler's own) still reaches the peer, and
// resets only a connection whose peer has stopped reading.
func (r *socketRegistry) shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.closing = true
	list := make([]*wsState, 0, len(r.conns))
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
		s.closeForShutdown(websocket.StatusGoingAway, "server shutting down")
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
				if c := rest.connection(); c != nil {
					c.CloseNow()
				}
			}
			return ctx.Err()
		}
	}
	return nil
}

// keepalive pings the peer when its interval has passed and aborts the
// connection when the oldest unanswered ping is older than the timeout
// (Tornado closes with 1000 "ping timed out" too). It also releases the
// compressor of a connection that has been quiet for a while.
func (s *wsState) keepalive(now time.Time) {
	n := now.UnixNano()
	s.parkIfQuiet(n)
	if c := s.connection(); c.Compressed() && n-s.lastSend.Load() > int64(compressorIdleTime) {
		c.ReleaseIdleCompressor()
	}
	if s.sendStalled(n) {
		return
	}
	if s.pingInterval <= 0 {
		return
	}
	if s.inboxWait.Load() {
		// The reader waits for OnMessage to catch up, so a pong may be
		// unread: the delay is ours, not the peer's.
		if s.pingPending.Load() != 0 {
			s.pingPending.Store(n)
		}
		return
	}
	if p := s.pingPending.Load(); p != 0 && n-p > int64(s.pingTimeout) {
		if s.timedOut.CompareAndSwap(false, true) {
			s.logger.Info("tornago: WebSocket ping timed out", "timeout", s.pingTimeout)
			s.mu.Lock()
			s.closing = true
			s.abortLocked(websocket.StatusNormalClosure, "ping timed out")
			s.mu.Unlock()
		}
		return
	}
	if n < s.nextPing.Load() {
		return
	}
	s.nextPing.Store(n + int64(s.pingInterval))
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

// maxPooledMessage is the largest message buffer kept for reuse; larger
// messages are rare enough to allocate.
const maxPooledMessage = 1 << 20

// messageBuffer takes a message buffer from the pool.
func (r *socketRegistry) messageBuffer() *[]byte {
	if b, ok := r.msgBufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

// putMessageBuffer gives buf back once the message read into it, data,
// has been handled; data's array replaces buf's when the message did not
// fit and is not too large to keep.
func (r *socketRegistry) putMessageBuffer(buf *[]byte, data []byte) {
	if cap(data) > cap(*buf) {
		if cap(data) > maxPooledMessage {
			r.msgBufs.Put(buf)
			return
		}
		*buf = data[:0]
	}
	r.msgBufs.Put(buf)
}
