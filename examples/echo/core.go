package main

import (
	"context"
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
	// ping is how often every peer is pinged (-ping); 0 sends no pings.
	ping time.Duration
}

// sendQueueBytes bounds what a /broadcast client may lag behind. The
// messages in its queue are shared with every other client (each is
// encoded once), so the bound is on how far a client may lag, not on
// memory per client.
const sendQueueBytes = 4 << 20

// coreVariant serves the endpoints with the websocket package alone: a
// websocket.Session per connection, from the variant's websocket.Group,
// which queues, dispatches, parks quiet connections and shuts them down.
type coreVariant struct {
	log   *slog.Logger
	opts  websocket.AcceptOptions
	ping  time.Duration
	group websocket.Group

	members atomic.Pointer[[]*websocket.Session] // /broadcast clients, copy-on-write
	mu      sync.Mutex                           // serializes changes to members
}

// newCoreVariant returns the bare-core variant.
func newCoreVariant(cfg config) *coreVariant {
	v := &coreVariant{log: cfg.logger, ping: cfg.ping}
	v.members.Store(&[]*websocket.Session{})
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

func (v *coreVariant) shutdown(ctx context.Context) error { return v.group.Shutdown(ctx) }

// serve completes the handshake and starts the session that events
// receives; it reports false when the handshake failed (the response was
// written) or the server is stopping (503).
func (v *coreVariant) serve(w http.ResponseWriter, r *http.Request, e *events, opts websocket.SessionOptions) bool {
	opts.Logger = v.log
	opts.PingInterval = v.ping
	s, err := v.group.NewSession(e, opts)
	if err != nil {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return false
	}
	e.s = s
	c, err := websocket.Accept(w, r, &v.opts)
	if err != nil {
		v.log.Debug("handshake refused", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
		s.Cancel()
		return false
	}
	e.serving()
	s.Start(c)
	return true
}

// events is a session's event handler: onMessage for each message,
// serving and closed (optional) when the session starts and ends.
type events struct {
	s         *websocket.Session
	onMessage func(s *websocket.Session, m websocket.Message) error
	serving   func()
	closed    func()
}

func (e *events) OnMessage(m websocket.Message) error { return e.onMessage(e.s, m) }
func (e *events) OnPing([]byte)                       {}
func (e *events) OnPong([]byte)                       {}
func (e *events) OnClose() {
	if e.closed != nil {
		e.closed()
	}
}

// messageType is m's type.
func messageType(m websocket.Message) websocket.MessageType {
	if m.Binary {
		return websocket.BinaryMessage
	}
	return websocket.TextMessage
}

// echo serves /echo: every message is sent back with its type, read into
// a pooled buffer (an echo keeps no message once it is sent). With
// ?close=CODE&reason=TEXT the server closes right after the handshake
// instead; a code that may not be sent in a close frame is refused with
// 400 before the handshake.
func (v *coreVariant) echo(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	e := &events{
		onMessage: func(s *websocket.Session, m websocket.Message) error { return s.Send(messageType(m), m.Data) },
		serving:   func() {},
	}
	if q.Has("close") {
		n, err := strconv.Atoi(q.Get("close"))
		if err != nil || !websocket.StatusCode(n).Valid() {
			http.Error(w, "close: not a close code that may be sent", http.StatusBadRequest)
			return
		}
		e.serving = func() { e.s.Close(websocket.StatusCode(n), q.Get("reason")) }
	}
	v.serve(w, r, e, websocket.SessionOptions{ReuseMessageBuffers: true})
}

// broadcast serves /broadcast: every message from any client goes to every
// client, the sender included, encoded once. A client whose send queue
// overflows is closed with 1008 by its session, without delaying the rest.
func (v *coreVariant) broadcast(w http.ResponseWriter, r *http.Request) {
	e := &events{onMessage: func(_ *websocket.Session, m websocket.Message) error {
		pm, err := websocket.NewPreparedMessage(messageType(m), m.Data)
		if err != nil {
			return err
		}
		for _, s := range *v.members.Load() {
			_ = s.SendPrepared(pm) // a slow client's session closes it
		}
		return nil
	}}
	e.serving = func() {
		v.update(func(m []*websocket.Session) []*websocket.Session { return append(m, e.s) })
	}
	e.closed = func() {
		v.update(func(m []*websocket.Session) []*websocket.Session {
			for i, s := range m {
				if s == e.s {
					return append(m[:i:i], m[i+1:]...)
				}
			}
			return m
		})
	}
	v.serve(w, r, e, websocket.SessionOptions{SendQueueSize: sendQueueBytes})
}

// update replaces the member list with f's result; f gets a copy.
func (v *coreVariant) update(f func([]*websocket.Session) []*websocket.Session) {
	v.mu.Lock()
	defer v.mu.Unlock()
	next := f(append([]*websocket.Session(nil), *v.members.Load()...))
	v.members.Store(&next)
}
