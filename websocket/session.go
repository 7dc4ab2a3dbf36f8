package websocket

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tornago/tornago/internal/stack"
)

// Session is the server's runtime for one connection, event-driven: it
// reads messages and hands them to SessionEvents.OnMessage in order (the
// reader calls it while no other message waits, and a slow call has the
// reading handed to a new goroutine within a keepalive tick, so pings are
// answered while a message is handled), queues what is sent to the peer
// in a bounded send queue
// (Send, SendPrepared and Ping never block), pings the peer and times out
// one that stops answering, and parks the reader of a quiet connection in
// its Group's poller, with no goroutine and no buffer, until bytes arrive.
//
// A session is made by Group.NewSession before the handshake completes,
// so that what is sent before Start (or Serve) is queued and goes out
// right after it; Start or Serve serves the accepted connection, and
// Cancel ends a session whose handshake failed. OnClose runs exactly once
// either way.
//
// Goroutines: a reader runs while messages arrive and parks when the
// connection is quiet (session_read.go), and calls OnMessage itself when
// no dispatcher runs; a dispatcher runs OnMessage while the inbox is not
// empty and lingers while messages flow (session_dispatch.go); writes go
// to the socket on the writer's
// goroutine when nothing is queued, and a flusher goroutine exists while
// something is, lingering while messages flow (session_send.go); the
// group's one keepalive
// goroutine serves every session's timers (session_keepalive.go). So an
// idle session costs no goroutine where the platform has a poller.
//
// Send, SendPrepared, Ping, Flush, Close and Conn are safe from any
// goroutine, and so is SetOptions, which changes only the send queue's
// size once the session runs.
type Session struct {
	group  *Group
	events SessionEvents
	// cfg holds the settings, final once Start has run, and the logger
	// (session_config.go); atomic because SetOptions may replace it
	// while a sender already looks (before Start).
	cfg atomic.Pointer[sessionConfig]

	// Reading (session_read.go); the flags, under readMu, sit with the
	// inbox's below, where they fill what would be padding.
	readFn      func()       // s.readOnNewGoroutine, bound once
	lastMessage atomic.Int64 // when the last message arrived, UnixNano
	readMu      sync.Mutex

	conn atomic.Pointer[Conn]

	// The send queue, under mu (session_send.go).
	mu            sync.Mutex
	sendQueueSize int
	queue         []sendItem
	spare         []sendItem
	queued        int   // bytes in queue and in the batch being written
	flushing      bool  // a flusher goroutine is running
	flushIdle     bool  // it waits on flushWake for more to send
	sendsCounted  uint8 // messages queued since the keepalive last looked, up to 255
	closing       bool  // Close was called or the connection ended: no more writes
	ended         bool  // the connection is over; no goroutine may start
	// canLinger says the keepalive goroutine watches for quiet, so that
	// the dispatcher and the flusher may linger: set by Start under mu,
	// before the dispatcher can run.
	canLinger bool
	// nudgeSkip and nudgeMisses are the dispatcher's own
	// (session_nudge.go); they fill the flags' padding here.
	nudgeSkip   uint8
	nudgeMisses uint8
	flushWake   chan struct{}
	closeReq    *closeRequest
	enqueued    uint64 // items ever queued, and the close frame
	sent        uint64 // items written (or dropped at the end)
	sentSignal  chan struct{}
	workers     sync.WaitGroup // flusher and abort goroutines

	// The inbox, under inMu (session_dispatch.go).
	inMu sync.Mutex
	// inWake is where the reader waits for room in the inbox and a
	// lingering dispatcher waits for messages: never both at once, since
	// the one waits for a full inbox and the other for an empty one.
	inWake    sync.Cond
	inboxWait atomic.Bool // the reader is waiting in inWake, not reading
	// Under readMu (session_read.go): set once by Start, then the
	// reader's state.
	parkable    bool          // the reader may park in the group's poller
	reading     bool          // the reader is blocked in a read
	interrupt   readInterrupt // who interrupted that read, if anyone
	inbox       []inboxItem
	inboxBytes  int64
	dispatching bool
	lingering   bool // the dispatcher waits on inWake
	busy        bool // messages are flowing: the dispatcher lingers
	stopped     bool // OnMessage failed: drop the rest
	// flags holds stateTimedOut, stateInline and stateHandedOff: one word
	// where three would outgrow the allocator's size class.
	flags      atomic.Uint32
	dispatchWG sync.WaitGroup

	// Keepalive, in UnixNano (session_keepalive.go).
	nextPing    atomic.Int64
	pingPending atomic.Int64 // when the oldest unanswered ping went out, 0 if none
	lastSend    atomic.Int64 // when the peer last took bytes, or the flusher started
}

// SessionEvents receives a session's events, as gws's Event or Tornado's
// WebSocketHandler methods.
type SessionEvents interface {
	// OnMessage is called for each message, in order, one at a time: on
	// the reading goroutine when no other message waits, else on the
	// session's dispatcher goroutine. While it runs on the reading
	// goroutine nothing is read; once it has run 50 ms the reading moves
	// to a new goroutine at the keepalive goroutine's next tick (a second
	// at most), so a slow OnMessage delays pongs and the peer's close by
	// that much, not by its own length. Returning an error (or panicking)
	// closes the connection with 1011; an error matching ErrClosed (a
	// write that found the connection closing) does not.
	OnMessage(m Message) error
	// OnPing is called on the reading goroutine with the payload of each
	// ping, after the pong was sent; the payload is valid only during the
	// call.
	OnPing(payload []byte)
	// OnPong is called on the reading goroutine with the payload of each
	// pong; valid only during the call.
	OnPong(payload []byte)
	// OnClose is called once when the session has ended, after every
	// message received reached OnMessage and every goroutine of the
	// session has stopped. A panic in it is logged.
	OnClose()
}

// Message is a data message, as SessionEvents.OnMessage receives it (Data
// is the receiver's to keep, unless the session reuses message buffers:
// SessionOptions.ReuseMessageBuffers). It is tornago.Message, what a
// WebSocketHandler's OnMessage receives, and hub.Message, what a hub
// publishes, too.
type Message struct {
	Data   []byte
	Binary bool
}

// Text returns Data as a string.
func (m Message) Text() string { return string(m.Data) }

// SessionOptions configures a session; the zero value is usable.
type SessionOptions struct {
	// PingInterval is how often the session pings the peer; 0 sends no
	// pings. PingTimeout is how long a ping may go unanswered (by a pong,
	// a ping or a message) before the connection is closed with 1000
	// "ping timed out"; 0 means PingInterval.
	PingInterval, PingTimeout time.Duration
	// SendQueueSize bounds in bytes what may wait to be sent; a send that
	// would exceed it fails with ErrSendQueueFull and closes the
	// connection with 1008. 0 means 16 MiB.
	SendQueueSize int
	// SendTimeout closes with 1008 a connection whose queued bytes the
	// peer has not taken for this long; 0 or less never does.
	SendTimeout time.Duration
	// InboxSize bounds in bytes the messages read but not yet handled by
	// OnMessage; past it the reader waits, pushing back on the peer
	// through TCP. 0 means 64 KiB.
	InboxSize int64
	// ReuseMessageBuffers reads messages into pooled buffers: Message.Data
	// is then valid only until OnMessage returns.
	ReuseMessageBuffers bool
	// Logger receives records of slow peers, timeouts and failed
	// handlers; nil logs nothing.
	Logger *slog.Logger
}

// Defaults of SessionOptions.
const (
	defaultSendQueueSize = 16 << 20
	defaultInboxSize     = 64 << 10
)

// ErrSendQueueFull is returned by a send that would take the session's
// send queue over its size: the peer is not reading fast enough, so the
// connection is closed with 1008. It matches ErrClosed.
var ErrSendQueueFull = fmt.Errorf("%w: send queue full (peer too slow)", ErrClosed)

// ErrNotStarted is returned by Flush before Serve or Start, when nothing
// can be sent yet.
var ErrNotStarted = errors.New("websocket: session not started yet")

type closeRequest struct {
	code   StatusCode
	reason string
}

// NewSession makes a session in g for a connection about to be accepted;
// events receives its events. It fails with ErrGroupClosed once Shutdown
// has begun. The session must be ended by Start or Cancel.
func (g *Group) NewSession(events SessionEvents, opts SessionOptions) (*Session, error) {
	s := &Session{group: g, events: events}
	s.SetOptions(opts)
	s.inWake.L = &s.inMu
	if err := g.add(s); err != nil {
		return nil, err
	}
	return s, nil
}

// orDefault returns v, or def when v is 0.
func orDefault(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}

// SetOptions replaces the options the session was made with but Logger.
// Before Start it replaces all of them; once the session runs, only
// SendQueueSize changes (the rest are fixed then). It is safe while other
// goroutines send. tornago.WebSocketHandler calls it when a handler
// changes its settings after the session was made.
func (s *Session) SetOptions(opts SessionOptions) {
	if s.conn.Load() == nil {
		c := sessionConfig{
			pingInterval: opts.PingInterval,
			pingTimeout:  opts.PingTimeout,
			sendTimeout:  opts.SendTimeout,
			inboxSize:    orDefault(opts.InboxSize, defaultInboxSize),
			logger:       opts.Logger,
			reuseBuffers: opts.ReuseMessageBuffers,
		}
		if c.pingTimeout <= 0 {
			c.pingTimeout = c.pingInterval
		}
		if have := s.cfg.Load(); have != nil {
			c.logger = have.logger // fixed by NewSession
		}
		s.cfg.Store(s.group.sharedConfig(c))
	}
	s.mu.Lock()
	s.sendQueueSize = int(orDefault(int64(opts.SendQueueSize), defaultSendQueueSize))
	s.mu.Unlock()
}

// Conn returns the session's connection, nil before Serve or Start.
func (s *Session) Conn() *Conn { return s.conn.Load() }

// Start serves conn, an accepted connection, on goroutines of the
// session's own, and returns at once. What was sent before goes out
// first, then a Close requested before (or a Shutdown that came
// meanwhile). The session installs its own ping and pong handlers on
// conn, which call SessionEvents.OnPing and OnPong.
func (s *Session) Start(conn *Conn) {
	s.start(conn)
	go s.readOnNewGoroutine()
}

// Serve is Start with the first reads on the caller's goroutine. It
// returns once the caller's goroutine is no longer needed, with the
// session going on: the connection has gone quiet and waits in the
// group's poller (see Group), or an OnMessage ran so long that the
// reading moved to a goroutine of its own (see SessionEvents); or once
// the connection has ended and OnClose has run. Conn().Done() tells the
// cases apart. A connection the poller cannot wait for (TLS, HTTP/2, any
// on a system without the poller) would keep the caller's goroutine for
// its whole life, and a handler's goroutine has a deeper stack than a
// reader needs: Serve starts its reader as Start does and returns at once.
//
// Serve saves the reader goroutine Start starts, and that goroutine's
// stack growth, where the caller's stack already has room for the read
// path, as tornago.WebSocketHandler's has (its handshake grew it). A
// plain http.HandlerFunc's goroutine has not grown yet: there Serve grows
// it, copying net/http's frames, which costs about what the goroutine
// would (BENCHMARKS.md), and the handler does not return while the
// connection is busy, so Start is the better call.
func (s *Session) Serve(conn *Conn) {
	s.start(conn)
	if !s.parkable {
		go s.readOnNewGoroutine()
		return
	}
	// The read path (and a close handshake from it) needs more stack than
	// a handler usually has left: grow it here, where the runtime copies
	// the handler's frames, not those of the read path too.
	stack.Grow()
	s.readLoop()
}

// start sets conn up to be served; the caller then reads.
func (s *Session) start(conn *Conn) {
	conn.control = s // its ping and pong handlers: pinged and ponged
	s.setupReading(conn)
	if every := s.config().pingInterval; every > 0 {
		s.nextPing.Store(time.Now().Add(every).UnixNano())
	}
	// Last: the group's keepalive goroutine looks at a session once its
	// connection is stored, and must find the rest set up.
	s.conn.Store(conn)
	keepalive := s.needsKeepalive()
	s.mu.Lock()
	s.canLinger = keepalive // under mu: a flusher may look already
	if s.closeReq != nil {
		s.closing = true // a Shutdown that came before Start
	}
	s.startFlusherLocked() // messages sent before Start, or a Close
	s.mu.Unlock()
	s.lastSend.Store(time.Now().UnixNano())
	if keepalive {
		s.group.startKeepalive(s.keepaliveTick())
	}
}

// Cancel ends a session that was never started (its handshake was
// refused or failed): sends fail with ErrClosed from now on, OnClose
// runs, and the session leaves its group. It must not be called after
// Serve or Start.
func (s *Session) Cancel() {
	s.end()
	s.callOnClose()
	s.group.remove(s)
}

// needsKeepalive reports whether the keepalive goroutine has work for the
// session: pings, timing out a stalled peer, releasing an idle
// compressor, or parking its reader.
func (s *Session) needsKeepalive() bool {
	c, cfg := s.conn.Load(), s.config()
	return c != nil && (cfg.pingInterval > 0 || cfg.sendTimeout > 0 || c.Compressed() || s.group.poller != nil)
}

// keepaliveTick is the period the session's timers need checking at:
// the shorter of the ping interval and the send timeout (0 for neither).
func (s *Session) keepaliveTick() time.Duration {
	cfg := s.config()
	switch {
	case cfg.pingInterval <= 0:
		return max(cfg.sendTimeout, 0)
	case cfg.sendTimeout <= 0:
		return cfg.pingInterval
	}
	return min(cfg.pingInterval, cfg.sendTimeout)
}

// logEnd logs why a connection ended when it was not a normal close.
func (s *Session) logEnd(err error) {
	var pe *ProtocolError
	if errors.As(err, &pe) {
		s.config().logger.Info("websocket: session closed for a protocol error", "code", int(pe.Code), "reason", pe.Reason)
	}
}

// end marks the session over: writes fail from now on, and the TCP
// connection is closed (if the closing handshake has not done so), which
// stops the flusher. Messages already received still reach OnMessage.
func (s *Session) end() {
	s.mu.Lock()
	s.closing = true
	s.ended = true
	s.signalSentLocked()  // Flush callers now fail
	s.wakeFlusherLocked() // a lingering flusher exits
	s.mu.Unlock()
	if c := s.conn.Load(); c != nil {
		c.CloseNow()
	}
}

// callOnClose runs OnClose once, after every goroutine of the session
// has stopped.
func (s *Session) callOnClose() {
	s.workers.Wait()
	defer func() {
		if p := recover(); p != nil {
			s.config().logger.Error("websocket: panic in OnClose", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	s.events.OnClose()
}

// pinged and ponged handle the peer's pings and pongs for the session's
// connection, on its reading goroutine (instead of ConnOptions.OnPing and
// OnPong, at no allocation per connection). A quiet connection's reader
// woken by a control frame alone (the pong to a keepalive ping, mostly)
// parks again at once instead of waiting in the read for the keepalive
// goroutine to park it a tick later: with pings on, that wait kept a
// goroutine and its stack for a second in every ping interval of every
// idle connection.
func (s *Session) pinged(p []byte) {
	s.alive()
	s.events.OnPing(p)
	s.parkIfQuiet(time.Now().UnixNano())
}

func (s *Session) ponged(p []byte) {
	s.alive()
	s.events.OnPong(p)
	s.parkIfQuiet(time.Now().UnixNano())
}

// alive records that the peer showed signs of life (a pong, a ping or a
// message), which answers any outstanding ping.
func (s *Session) alive() {
	if s.pingPending.Load() != 0 {
		s.pingPending.Store(0)
	}
}

// Session.flags.
const (
	// stateTimedOut: the keepalive closed the connection (session_keepalive.go).
	stateTimedOut uint32 = 1 << iota
	// stateInline: the reader is running OnMessage itself (session_dispatch.go).
	stateInline
	// stateHandedOff, set and cleared under inMu: the reading went to a new
	// goroutine while the reader ran OnMessage.
	stateHandedOff
)

// setFlag sets f and reports whether it was clear.
func (s *Session) setFlag(f uint32) bool { return s.flags.Or(f)&f == 0 }

// clearFlag clears f and reports whether it was set.
func (s *Session) clearFlag(f uint32) bool { return s.flags.And(^f)&f != 0 }

// hasFlag reports whether f is set.
func (s *Session) hasFlag(f uint32) bool { return s.flags.Load()&f != 0 }
