package websocket

import (
	"errors"
	"sync"
)

// errPollerClosed is what a closed poller's mechanism reports.
var errPollerClosed = errors.New("websocket: poller closed")

// A poller waits for many idle connections at once, so that a connection
// with nothing to read needs no goroutine of its own: a goroutine parked
// in a read costs its stack, at least 8 KiB once it has run the read
// path, which at many thousand mostly idle connections is most of the
// server's memory.
//
// Instead of calling ReadMessage and blocking, a server goroutine that
// finds a connection idle calls Wait and returns; Wait runs a function on
// a new goroutine once bytes arrive or the connection closes, and that
// function reads on. On Linux one goroutine waits for all connections
// with epoll; elsewhere, and for connections that are not plain sockets
// (TLS), Wait reports false and the caller simply reads.
//
// A poller is safe for concurrent use. Its goroutine runs only while some
// connection waits and stops shortly after the last one is done, so an
// unused poller costs nothing; Close stops it for good.
type poller struct {
	shards [pollerShards]pollerShard
	sys    pollerSys // the platform's mechanism (poller_linux.go)
}

// pollerShards spreads the waiting connections over several locks, so
// that connections parking and waking at once do not all queue on one.
const pollerShards = 32

// pollerShard maps registration ids to the connections waiting with them.
type pollerShard struct {
	mu      sync.Mutex
	waiting map[uint64]*Conn
	_       [40]byte // keep shards on separate cache lines
}

// newPoller returns a poller. It allocates no system resources until the
// first Wait.
func newPoller() *poller { return &poller{} }

// parkState is a Conn's registration with a poller; under mu.
type parkState struct {
	mu         sync.Mutex
	poller     *poller
	id         uint64 // the current wait's id; 0 when not waiting
	resume     func()
	registered *poller // the poller whose epoll set holds the socket
}

// Wait arranges for resume to run, on a goroutine of its own, once c has
// bytes to read, has been closed, or p has been closed, and reports true;
// resume then runs exactly once. It reports false, and never calls
// resume, when c has bytes buffered that can be read on, is closed,
// cannot be waited for (TLS or another wrapped connection, or a platform
// without a poller), or is already waiting: the caller should read right
// away. A waiting connection holds no read buffer.
//
// The caller must not read c while it waits; writes and Close are fine
// (Close wakes the wait). Resume must read before it waits again: the
// wake-up is spent, and the bytes that caused it are still in the socket.
// A Session's reader is the user (session_read.go).
func (p *poller) Wait(c *Conn, resume func()) bool {
	if c.raw == nil || !pollerSupported || c.isClosed() {
		return false
	}
	// Bytes already read into c's buffer would never wake the socket
	// again. The check needs the read lock; whoever holds it (Close
	// draining the connection) is reading, so there is no waiting to do.
	if !c.locks.tryLock(lockRead) {
		return false
	}
	// Bytes a read stopped short on (starved) need more from the socket,
	// so they are no reason not to wait.
	r := &c.rd
	buffered := r.err != nil || (r.pos < r.end && !r.starved)
	if !buffered {
		r.shrinkForWait()
	}
	c.locks.unlock(lockRead)
	if buffered {
		return false
	}

	// The poller's goroutine and epoll set stay up until end.
	if err := p.sys.begin(p); err != nil {
		if c.logger != nil && err != errPollerClosed {
			c.logger.Warn("websocket: poller unavailable; reading instead", "error", err)
		}
		return false
	}
	defer p.sys.end()

	ps := &c.park
	ps.mu.Lock()
	if ps.id != 0 {
		ps.mu.Unlock()
		return false
	}
	id := p.sys.newID()
	ps.poller, ps.id, ps.resume = p, id, resume
	add := ps.registered != p
	ps.mu.Unlock()

	p.shard(id).put(id, c)
	var armErr error
	if err := c.raw.Control(func(fd uintptr) { armErr = p.sys.arm(fd, id, add) }); err != nil || armErr != nil {
		// The socket was closed meanwhile (its close may already have
		// woken the wait) or cannot be polled: wake now, so that the
		// caller's read finds out.
		c.wakeParked(id)
		return true
	}
	if add {
		ps.mu.Lock()
		ps.registered = p
		ps.mu.Unlock()
	}
	// A Close that ran between the check above and the registration
	// found nothing to wake, and a closed socket gives no event.
	if c.isClosed() {
		c.wakeParked(id)
	}
	return true
}

// Close wakes every waiting connection and stops the poller's goroutine;
// later Waits report false.
func (p *poller) Close() error {
	err := p.sys.close()
	for i := range p.shards {
		sh := &p.shards[i]
		sh.mu.Lock()
		ids := make([]uint64, 0, len(sh.waiting))
		conns := make([]*Conn, 0, len(sh.waiting))
		for id, c := range sh.waiting {
			ids = append(ids, id)
			conns = append(conns, c)
		}
		sh.mu.Unlock()
		for j, c := range conns {
			c.wakeParked(ids[j])
		}
	}
	return err
}

func (p *poller) shard(id uint64) *pollerShard { return &p.shards[id%pollerShards] }

func (sh *pollerShard) put(id uint64, c *Conn) {
	sh.mu.Lock()
	if sh.waiting == nil {
		sh.waiting = make(map[uint64]*Conn)
	}
	sh.waiting[id] = c
	sh.mu.Unlock()
}

// take removes and returns the connection waiting with id, if any.
func (sh *pollerShard) take(id uint64) *Conn {
	sh.mu.Lock()
	c := sh.waiting[id]
	if c != nil {
		delete(sh.waiting, id)
	}
	sh.mu.Unlock()
	return c
}

// waiters reports whether any connection waits.
func (p *poller) waiters() bool {
	for i := range p.shards {
		sh := &p.shards[i]
		sh.mu.Lock()
		n := len(sh.waiting)
		sh.mu.Unlock()
		if n > 0 {
			return true
		}
	}
	return false
}

// wake runs the resume function of the connection waiting with id, if it
// still waits with that id: from the poller's goroutine when the socket
// is readable.
func (p *poller) wake(id uint64) {
	if c := p.shard(id).take(id); c != nil {
		c.wakeParked(id)
	}
}

// wakeParked ends c's wait with id (any wait, if id is 0) and starts its
// resume function. Each wait is ended once, whoever gets here first: the
// poller, Close, or the Wait that failed to register.
func (c *Conn) wakeParked(id uint64) {
	ps := &c.park
	ps.mu.Lock()
	if ps.id == 0 || (id != 0 && ps.id != id) {
		ps.mu.Unlock()
		return
	}
	p, cur, resume := ps.poller, ps.id, ps.resume
	ps.poller, ps.id, ps.resume = nil, 0, nil
	ps.mu.Unlock()
	p.shard(cur).take(cur)
	go resume()
}
