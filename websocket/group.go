package websocket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// drained is closed once Shutdown has begun and the last session has
	// left (a channel per group, not one per session).
	drained chan struct{}

	// poller holds the readers of quiet sessions (session_read.go); nil
	// where the platform has none.
	poller *poller

	// configs are the sessions' latest distinct configurations, for
	// sharing, and discard the logger of sessions given none; under mu
	// (session_config.go).
	configs [recentConfigs]*sessionConfig
	discard *slog.Logger

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
func (g *Group) add(s *Session) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return ErrGroupClosed
	}
	if g.conns == nil {
		g.conns = map[*Session]struct{}{}
		if pollerSupported {
			g.poller = newPoller()
		}
	}
	g.conns[s] = struct{}{}
	return nil
}

// remove unregisters a session whose lifecycle (OnClose included) is
// over, which releases a Shutdown waiting for it.
func (g *Group) remove(s *Session) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.conns[s]; !ok {
		return
	}
	delete(g.conns, s)
	if g.drained != nil && len(g.conns) == 0 {
		close(g.drained)
	}
}

// startKeepalive makes sure the keepalive goroutine runs and wakes often
// enough for a ping interval or send timeout (or once a second, for
// compressor release and parking).
func (g *Group) startKeepalive(interval time.Duration) {
	tick := time.Second
	if interval > 0 {
		tick = min(tick, max(interval/4, minKeepaliveTick))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return
	}
	if g.kaRunning {
		if tick < g.kaTick {
			g.kaTick = tick
			select {
			case g.kaWake <- struct{}{}:
			default:
			}
		}
		return
	}
	g.kaRunning = true
	g.kaTick = tick
	g.kaWake = make(chan struct{}, 1)
	g.kaStop = make(chan struct{})
	g.kaWG.Add(1)
	go g.keepalive(tick, g.kaWake, g.kaStop)
}

// keepalive pings the connections that are due and closes those whose
// ping went unanswered; it exits when no connection needs it.
func (g *Group) keepalive(tick time.Duration, wake, stop chan struct{}) {
	defer g.kaWG.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	var due []*Session
	for {
		select {
		case <-stop:
			return
		case <-wake:
			g.mu.Lock()
			t.Reset(g.kaTick)
			g.mu.Unlock()
			continue
		case now := <-t.C:
			due = due[:0]
			g.mu.Lock()
			for s := range g.conns {
				// Settings are final once the connection is stored.
				if s.needsKeepalive() {
					due = append(due, s)
				}
			}
			if len(due) == 0 {
				g.kaRunning = false
				g.mu.Unlock()
				return
			}
			g.mu.Unlock()
			for _, s := range due {
				s.keepalive(now)
			}
			clear(due)
		}
	}
}

// Shutdown closes every session with 1001 "server shutting down" after
// what is queued for it; it is ShutdownWith that code and reason. In full:
// it closes every session after what is queued for it (a session not started yet gets its close right
// after Start), refuses new ones (NewSession fails with ErrGroupClosed),
// waits until each one's OnClose has run, and stops the keepalive. When
// ctx ends first, the rest are dropped without the closing handshake and
// ctx's error is returned: CloseNow ends each with a FIN behind what was
// written, so a close frame already sent (1001, or the session's own)
// still reaches the peer, and resets only a connection whose peer has
// stopped reading.
func (g *Group) Shutdown(ctx context.Context) error {
	return g.ShutdownWith(ctx, StatusGoingAway, "server shutting down")
}

// ShutdownWith is Shutdown with the close code and reason the sessions get
// instead of 1001, such as 1012 (service restart) or an application's own
// 4000–4999 code that its clients act on. A session already closing keeps
// its own code. It fails at once, closing nothing, when code may not be
// sent in a close frame.
func (g *Group) ShutdownWith(ctx context.Context, code StatusCode, reason string) error {
	if !code.Valid() {
		return fmt.Errorf("websocket: ShutdownWith: close code %d may not be sent", int(code))
	}
	g.mu.Lock()
	g.closing = true
	list := make([]*Session, 0, len(g.conns))
	for s := range g.conns {
		list = append(list, s)
	}
	if g.drained == nil {
		g.drained = make(chan struct{})
		if len(g.conns) == 0 {
			close(g.drained)
		}
	}
	drained := g.drained
	if g.kaRunning {
		close(g.kaStop)
		g.kaRunning = false
	}
	g.mu.Unlock()
	g.kaWG.Wait()

	for _, s := range list {
		s.closeForShutdown(code, reason)
	}
	// Parked readers are woken by their connections' closing; the
	// poller's goroutine is not needed after them.
	if g.poller != nil {
		defer g.poller.Close()
	}
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	list = list[:0]
	for s := range g.conns {
		list = append(list, s)
	}
	g.mu.Unlock()
	for _, rest := range list {
		if c := rest.conn.Load(); c != nil {
			c.CloseNow()
		}
	}
	return ctx.Err()
}

// maxPooledMessage is the largest message buffer kept for reuse; larger
// messages are rare enough to allocate.
const maxPooledMessage = 1 << 20

// messageBuffer takes a message buffer from the pool.
func (g *Group) messageBuffer() *[]byte {
	if b, ok := g.msgBufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

// putMessageBuffer gives buf back once the message read into it, data,
// has been handled; data's array replaces buf's when the message did not
// fit and is not too large to keep.
func (g *Group) putMessageBuffer(buf *[]byte, data []byte) {
	if cap(data) > cap(*buf) {
		if cap(data) > maxPooledMessage {
			g.msgBufs.Put(buf)
			return
		}
		*buf = data[:0]
	}
	g.msgBufs.Put(buf)
}
