package tornago

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tornago/tornago/websocket"
)

// wsState is the connection state inside a WebSocketHandler: the
// connection, the send queue and its flusher, the inbox of received
// messages and its dispatcher, and the keepalive clock.
//
// Goroutines: a reader runs while messages arrive and parks in the
// application's poller when the connection is quiet (websocket_read.go);
// a dispatcher runs OnMessage while the inbox is not empty and lingers
// while messages flow (websocket_dispatch.go); writes go to the socket on
// the writer's goroutine when nothing is queued, and a flusher goroutine
// exists only while something is (websocket_send.go). So an idle
// connection costs no goroutine where the platform has a poller.
type wsState struct {
	app         *Application
	logger      *slog.Logger
	subprotocol string
	hooks       webSocketHooks

	// Reading (websocket_read.go).
	readFn        func()       // s.readLoop, bound once
	parkable      bool         // the reader may park in the application's poller
	reuseBuffers  bool         // SetReuseMessageBuffers: read into pooled buffers
	finish        func()       // ends the lifecycle: registry, request context
	lastMessage   atomic.Int64 // when the last message arrived, UnixNano
	readMu        sync.Mutex
	reading       bool // the reader is blocked in a read
	parkRequested bool // the keepalive goroutine interrupted that read

	// Per-connection settings, from Settings unless overridden.
	pingInterval   time.Duration
	pingTimeout    time.Duration
	maxMessageSize int64
	closeTimeout   time.Duration
	sendTimeout    time.Duration // <= 0: a stalled peer is not timed out
	inboxSize      int64

	conn atomic.Pointer[websocket.Conn]

	// The send queue, under mu.
	mu            sync.Mutex
	sendQueueSize int
	queue         []sendItem
	spare         []sendItem
	queued        int  // bytes in queue and in the batch being written
	flushing      bool // a flusher goroutine is running
	closing       bool // Close was called or the connection ended: no more writes
	closeReq      *closeRequest
	ended         bool   // the connection is over; no goroutine may start
	enqueued      uint64 // items ever queued, and the close frame
	sent          uint64 // items written (or dropped at the end)
	sentSignal    chan struct{}
	workers       sync.WaitGroup // flusher and abort goroutines

	// The inbox, under inMu.
	inMu        sync.Mutex
	inSpace     sync.Cond   // the reader waits here for room in the inbox
	inboxWait   atomic.Bool // the reader is waiting in inSpace, not reading
	inReady     sync.Cond   // a lingering dispatcher waits here for messages
	inbox       []inboxItem
	inboxBytes  int64
	dispatching bool
	lingering   bool // the dispatcher waits on inReady
	busy        bool // messages are flowing: the dispatcher lingers
	canLinger   bool // the keepalive goroutine watches for quiet
	stopped     bool // OnMessage failed: drop the rest
	dispatchWG  sync.WaitGroup

	// Keepalive, in UnixNano; see keepalive.
	nextPing    atomic.Int64
	pingPending atomic.Int64 // when the oldest unanswered ping went out, 0 if none
	lastSend    atomic.Int64 // when the peer last took bytes, or the flusher started
	timedOut    atomic.Bool

	done chan struct{} // closed when the lifecycle is over (socketRegistry.remove)
}

// sendItem is one entry of the send queue: a message or a ping.
type sendItem struct {
	pm   *websocket.PreparedMessage
	ping []byte
}

type closeRequest struct {
	code   websocket.StatusCode
	reason string
}

// setup fills the settings from the application's; per-handler overrides
// made in Initialize keep their values.
func (s *wsState) setup(app *Application) {
	st := app.settings
	s.app = app
	s.logger = app.logger
	if s.pingInterval == 0 {
		s.pingInterval, s.pingTimeout = st.WebSocketPingInterval, st.WebSocketPingTimeout
	}
	if s.maxMessageSize == 0 {
		s.maxMessageSize = st.WebSocketMaxMessageSize
	}
	s.closeTimeout = st.WebSocketCloseTimeout
	s.sendTimeout = st.WebSocketSendTimeout
	s.inboxSize = int64(st.WebSocketInboxSize)
	s.mu.Lock()
	if s.sendQueueSize == 0 {
		s.sendQueueSize = st.WebSocketSendQueueSize
	}
	s.mu.Unlock()
	s.inSpace.L = &s.inMu
	s.inReady.L = &s.inMu
	s.done = make(chan struct{})
}

// acceptOptions builds the core's options once Open has run.
func (s *wsState) acceptOptions(hooks webSocketHooks, header http.Header, checkOrigin func(*http.Request) bool) *websocket.AcceptOptions {
	h := header.Clone()
	h.Del("Content-Type")
	protocol := s.subprotocol
	return &websocket.AcceptOptions{
		ConnOptions: websocket.ConnOptions{
			ReadLimit:    s.maxMessageSize,
			MaxFragments: s.app.settings.WebSocketMaxMessageFragments,
			CloseTimeout: s.closeTimeout,
			OnPing: func(p []byte) {
				s.alive()
				hooks.OnPing(p)
			},
			OnPong: func(p []byte) {
				s.alive()
				hooks.OnPong(p)
			},
		},
		CheckOrigin:       checkOrigin,
		SelectSubprotocol: func([]string) string { return protocol },
		Compression:       hooks.CompressionOptions(),
		Header:            h,
	}
}

func (s *wsState) connection() *websocket.Conn { return s.conn.Load() }

func (s *wsState) peerClose() *websocket.CloseError {
	if c := s.conn.Load(); c != nil {
		return c.PeerClose()
	}
	return nil
}

// run starts serving an open connection; finish runs once it has ended
// and OnClose has been called.
func (s *wsState) run(conn *websocket.Conn, hooks webSocketHooks, app *Application, finish func()) {
	s.hooks, s.finish = hooks, finish
	s.conn.Store(conn)
	s.setupReading()
	if s.pingInterval > 0 {
		s.nextPing.Store(time.Now().Add(s.pingInterval).UnixNano())
	}
	s.mu.Lock()
	if s.closeReq != nil {
		s.closing = true // a Shutdown that came during Open
	}
	s.startFlusherLocked() // messages written in Open, or a Close from Open
	s.mu.Unlock()
	s.lastSend.Store(time.Now().UnixNano())
	if s.needsKeepalive() {
		s.canLinger = true
		app.sockets.startKeepalive(s.keepaliveTick())
	}
	s.startReading()
}

// needsKeepalive reports whether the keepalive goroutine has work for the
// connection: pings, timing out a stalled peer, releasing an idle
// compressor, or parking its reader.
func (s *wsState) needsKeepalive() bool {
	c := s.connection()
	return c != nil && (s.pingInterval > 0 || s.sendTimeout > 0 || c.Compressed() || s.app.sockets.poller != nil)
}

// keepaliveTick is the period the connection's timers need checking at:
// the shorter of the ping interval and the send timeout (0 for neither).
func (s *wsState) keepaliveTick() time.Duration {
	switch {
	case s.pingInterval <= 0:
		return max(s.sendTimeout, 0)
	case s.sendTimeout <= 0:
		return s.pingInterval
	}
	return min(s.pingInterval, s.sendTimeout)
}

// logEnd logs why a connection ended when it was not a normal close.
func (s *wsState) logEnd(err error) {
	var pe *websocket.ProtocolError
	if errors.As(err, &pe) {
		s.logger.Info("tornago: WebSocket closed for a protocol error", "code", int(pe.Code), "reason", pe.Reason)
	}
}

// end marks the connection over: writes fail from now on, and the TCP
// connection is closed (if the closing handshake has not done so), which
// stops the flusher. Messages already received still reach OnMessage.
func (s *wsState) end() {
	s.mu.Lock()
	s.closing = true
	s.ended = true
	s.signalSentLocked() // Flush callers now fail

	s.mu.Unlock()
	if c := s.conn.Load(); c != nil {
		c.CloseNow()
	}
}

// callOnClose runs OnClose once, after every goroutine of the connection
// has stopped.
func (s *wsState) callOnClose(hooks webSocketHooks, app *Application) {
	s.workers.Wait()
	defer func() {
		if p := recover(); p != nil {
			app.logger.Error("tornago: panic in OnClose", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	hooks.OnClose()
}

// alive records that the peer showed signs of life (a pong, a ping or a
// message), which answers any outstanding ping.
func (s *wsState) alive() {
	if s.pingPending.Load() != 0 {
		s.pingPending.Store(0)
	}
}
