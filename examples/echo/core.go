package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tornago/tornago/websocket"
)

// variant is one implementation of the server's WebSocket endpoints: the
// default one on tornago.WebSocketHandler (framework.go), or the bare-core
// one below with -core, so that the benchmarks can tell the framework's
// cost from the core's.
type variant interface {
	// register installs the /echo and /broadcast handlers on mux.
	register(mux *http.ServeMux)
	// shutdown closes every open WebSocket with 1001 (going away), refuses
	// new ones, and waits until their goroutines have ended or ctx ends,
	// in which case the connections left are dropped.
	shutdown(ctx context.Context) error
}

// config is what main hands a variant.
type config struct {
	// allowOrigin is one origin (scheme://host[:port]) accepted on top of
	// the same-origin rule; "" accepts same-origin requests only.
	allowOrigin string
	logger      *slog.Logger
	// compression, when set, enables permessage-deflate (-deflate).
	compression *websocket.CompressionOptions
}

// Limits of a /broadcast client's send queue. Messages in it are shared
// with every other client (each is encoded once), so the bound is on how
// far a client may lag, not on memory per client.
const (
	sendQueueMessages = 256
	sendQueueBytes    = 4 << 20
)

// shutdownReason is the close reason sent with 1001 when the server stops.
const shutdownReason = "server shutting down"

// coreVariant serves the endpoints with the websocket package alone:
// websocket.Accept, an /echo session per connection that parks in a
// websocket.Poller while quiet and, for /broadcast, a read loop and a
// writer goroutine per client draining a bounded queue.
type coreVariant struct {
	log    *slog.Logger
	opts   websocket.AcceptOptions
	poller *websocket.Poller // quiet /echo connections wait here
	bufs   sync.Pool         // *[]byte message buffers for /echo sessions

	mu      sync.Mutex
	closing bool
	conns   map[*websocket.Conn]struct{} // every open connection
	subs    map[*subscriber]struct{}     // /broadcast clients
	wg      sync.WaitGroup               // handler, writer and closer goroutines after Accept
}

// newCoreVariant returns the bare-core variant.
func newCoreVariant(cfg config) *coreVariant {
	v := &coreVariant{
		log:    cfg.logger,
		poller: websocket.NewPoller(),
		conns:  make(map[*websocket.Conn]struct{}),
		subs:   make(map[*subscriber]struct{}),
	}
	v.opts.CheckOrigin = checkOrigin(cfg.allowOrigin)
	v.opts.Compression = cfg.compression
	return v
}

// checkOrigin returns the origin rule: websocket.DefaultCheckOrigin, plus
// allow when it is set (compared case-insensitively, as hosts are).
func checkOrigin(allow string) func(r *http.Request) bool {
	if allow == "" {
		return websocket.DefaultCheckOrigin
	}
	return func(r *http.Request) bool {
		return websocket.DefaultCheckOrigin(r) || strings.EqualFold(r.Header.Get("Origin"), allow)
	}
}

func (v *coreVariant) register(mux *http.ServeMux) {
	mux.HandleFunc("/echo", v.echo)
	mux.HandleFunc("/broadcast", v.broadcast)
}

// accept completes the handshake and tracks the connection. It returns nil
// when the handshake failed (the response was written) or the server is
// stopping (the connection was closed with 1001). On success the caller
// must call v.release(c) when it is done with c.
func (v *coreVariant) accept(w http.ResponseWriter, r *http.Request) *websocket.Conn {
	c, err := websocket.Accept(w, r, &v.opts)
	if err != nil {
		v.log.Debug("handshake refused", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
		return nil
	}
	v.mu.Lock()
	if v.closing {
		v.mu.Unlock()
		c.Close(websocket.StatusGoingAway, shutdownReason)
		return nil
	}
	v.conns[c] = struct{}{}
	v.wg.Add(1)
	v.mu.Unlock()
	return c
}

// release forgets c and drops its TCP connection if it is still open.
func (v *coreVariant) release(c *websocket.Conn) {
	c.CloseNow()
	v.mu.Lock()
	delete(v.conns, c)
	v.mu.Unlock()
	v.wg.Done()
}

// echo serves /echo: every message is sent back with its type. With
// ?close=CODE&reason=TEXT the server closes right after the handshake
// instead; a code that may not be sent in a close frame is refused with
// 400 before the handshake.
func (v *coreVariant) echo(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	closeCode := websocket.StatusCode(0)
	if q.Has("close") {
		n, err := strconv.Atoi(q.Get("close"))
		if err != nil || !websocket.StatusCode(n).Valid() {
			http.Error(w, "close: not a close code that may be sent", http.StatusBadRequest)
			return
		}
		closeCode = websocket.StatusCode(n)
	}
	c := v.accept(w, r)
	if c == nil {
		return
	}
	if closeCode != 0 {
		defer v.release(c)
		c.Close(closeCode, q.Get("reason"))
		return
	}
	// The connection is served by echoSession from here; this handler
	// returns, which frees net/http's goroutine and buffers.
	s := &echoSession{v: v, c: c}
	s.serveFn = s.serve
	if !v.poller.Wait(c, s.serveFn) {
		go s.serve()
	}
}

// busyGap is the gap between two messages under which an echo session
// reads on instead of parking: parking costs a few microseconds per
// wake-up, more than keeping the goroutine of a busy connection.
const busyGap = 20 * time.Millisecond

// echoSession is one /echo connection. It holds no goroutine while the
// connection is quiet: it parks in the variant's websocket.Poller, which
// starts serve again when bytes arrive.
type echoSession struct {
	v       *coreVariant
	c       *websocket.Conn
	serveFn func() // s.serve, bound once so that parking allocates nothing
	last    time.Time
}

// serve echoes messages until the connection ends, or parks when the
// connection is quiet. Messages are read into a buffer from the variant's
// pool, held only while the session runs: an echo server has no use for
// a message once it is written back, and reusing the buffer spares the
// garbage collector a message's worth of memory per echo.
func (s *echoSession) serve() {
	ctx := context.Background()
	buf := s.v.buffer()
	defer func() { s.v.bufs.Put(buf) }()
	for {
		typ, msg, err := s.c.ReadMessageInto(ctx, *buf)
		if err != nil {
			s.v.logEnd(s.c, err)
			s.v.release(s.c)
			return
		}
		if cap(msg) > cap(*buf) && cap(msg) <= maxPooledBuffer {
			*buf = msg // a larger message: keep its array for the next ones
		}
		if err := s.c.WriteMessage(ctx, typ, msg); err != nil {
			s.v.logEnd(s.c, err)
			s.v.release(s.c)
			return
		}
		now := time.Now()
		busy := now.Sub(s.last) < busyGap
		s.last = now
		if !busy && s.v.poller.Wait(s.c, s.serveFn) {
			return
		}
	}
}

// maxPooledBuffer is the largest message buffer kept for reuse.
const maxPooledBuffer = 1 << 20

// buffer takes a message buffer from the pool.
func (v *coreVariant) buffer() *[]byte {
	if b, ok := v.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

// subscriber is a /broadcast client: its queue of messages to send and
// the goroutine draining it.
type subscriber struct {
	conn   *websocket.Conn
	queue  chan *websocket.PreparedMessage
	queued atomic.Int64 // bytes in queue
	// stop ends the writer, interrupting a write in progress.
	ctx  context.Context
	stop context.CancelFunc
}

// broadcast serves /broadcast: every message from any client goes to every
// client, the sender included, encoded once.
func (v *coreVariant) broadcast(w http.ResponseWriter, r *http.Request) {
	c := v.accept(w, r)
	if c == nil {
		return
	}
	defer v.release(c)
	s := &subscriber{conn: c, queue: make(chan *websocket.PreparedMessage, sendQueueMessages)}
	s.ctx, s.stop = context.WithCancel(context.Background())
	defer s.stop()
	v.mu.Lock()
	v.subs[s] = struct{}{}
	v.wg.Add(1)
	v.mu.Unlock()
	go v.write(s)
	defer v.unsubscribe(s)

	ctx := context.Background()
	for {
		typ, msg, err := c.ReadMessage(ctx)
		if err != nil {
			v.logEnd(c, err)
			return
		}
		pm, err := websocket.NewPreparedMessage(typ, msg)
		if err != nil {
			// The core checked the text already; this cannot happen.
			v.log.Error("preparing a broadcast", "err", err)
			return
		}
		v.publish(pm)
	}
}

// unsubscribe stops sending to s; it reports whether s was subscribed.
func (v *coreVariant) unsubscribe(s *subscriber) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.subs[s]; !ok {
		return false
	}
	delete(v.subs, s)
	return true
}

// publish queues pm for every subscriber without waiting for any: one
// whose queue is full is dropped and closed with 1008 (policy violation).
func (v *coreVariant) publish(pm *websocket.PreparedMessage) {
	size := int64(len(pm.Data()))
	var slow []*subscriber
	v.mu.Lock()
	for s := range v.subs {
		if s.queued.Load()+size > sendQueueBytes && s.queued.Load() > 0 {
			slow = append(slow, s)
			continue
		}
		select {
		case s.queue <- pm:
			s.queued.Add(size)
		default:
			slow = append(slow, s)
		}
	}
	for _, s := range slow {
		delete(v.subs, s)
		v.wg.Add(1)
	}
	v.mu.Unlock()
	for _, s := range slow {
		go v.dropSlow(s)
	}
}

// dropSlow closes a subscriber that fell too far behind. Its writer is
// stopped first: if it was blocked on a full socket, the interrupted frame
// breaks the stream and the connection is closed without a close frame;
// otherwise the peer gets 1008.
func (v *coreVariant) dropSlow(s *subscriber) {
	defer v.wg.Done()
	v.log.Info("closing a slow broadcast client", "remote", s.conn.RemoteAddr().String(), "queued_bytes", s.queued.Load())
	s.stop()
	s.conn.Close(websocket.StatusPolicyViolation, "too slow to keep up with the broadcast")
}

// write drains s's queue onto its connection until it is stopped or a
// write fails.
func (v *coreVariant) write(s *subscriber) {
	defer v.wg.Done()
	batch := make([]*websocket.PreparedMessage, 0, sendQueueMessages)
	for {
		select {
		case <-s.ctx.Done():
			return
		case pm := <-s.queue:
			// Whatever else has queued meanwhile goes out in the same
			// system call (writev): under a broadcast, one write per
			// delivery would cost more than the rest of the delivery.
			batch = append(batch[:0], pm)
		drain:
			for len(batch) < cap(batch) {
				select {
				case pm := <-s.queue:
					batch = append(batch, pm)
				default:
					break drain
				}
			}
			if err := s.conn.WritePreparedBatch(s.ctx, batch); err != nil {
				if s.ctx.Err() == nil {
					// The connection is gone; its read loop ends too.
					v.unsubscribe(s)
					s.conn.CloseNow()
				}
				return
			}
			var size int64
			for i, pm := range batch {
				size += int64(len(pm.Data()))
				batch[i] = nil
			}
			s.queued.Add(-size)
		}
	}
}

// logEnd records why a connection's read loop ended.
func (v *coreVariant) logEnd(c *websocket.Conn, err error) {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		v.log.Debug("closed by peer", "remote", c.RemoteAddr().String(), "code", int(ce.Code), "reason", ce.Reason)
	default:
		v.log.Debug("connection ended", "remote", c.RemoteAddr().String(), "err", err)
	}
}

func (v *coreVariant) shutdown(ctx context.Context) error {
	v.mu.Lock()
	v.closing = true
	conns := make([]*websocket.Conn, 0, len(v.conns))
	for c := range v.conns {
		conns = append(conns, c)
	}
	v.mu.Unlock()
	v.log.Info("closing WebSockets", "count", len(conns))
	var closers sync.WaitGroup
	for _, c := range conns {
		closers.Go(func() { c.Close(websocket.StatusGoingAway, shutdownReason) })
	}
	done := make(chan struct{})
	go func() {
		closers.Wait()
		v.wg.Wait()
		close(done)
	}()
	defer v.poller.Close()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.CloseNow()
		}
		<-done
		return ctx.Err()
	}
}
