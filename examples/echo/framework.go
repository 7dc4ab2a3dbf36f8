package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/websocket"
)

// frameworkVariant serves the endpoints with tornago.WebSocketHandler, the
// path users take: an Application routes /echo and /broadcast, each
// connection gets a handler instance, and the Application's send queues,
// keepalive and shutdown do the rest. It is the default; -core selects
// the bare-core variant.
type frameworkVariant struct {
	app     *tornago.Application
	allow   string
	members atomic.Pointer[[]*broadcastSocket] // copy-on-write, read per message
	mu      sync.Mutex                         // serializes changes to members
}

// newFrameworkVariant returns the handler variant, serving more routes on
// top of /echo and /broadcast (the hub variant's /room).
func newFrameworkVariant(cfg config, more ...tornago.Route) (*frameworkVariant, error) {
	v := &frameworkVariant{allow: cfg.allowOrigin}
	v.members.Store(&[]*broadcastSocket{})
	app, err := tornago.NewApplication(append([]tornago.Route{
		{Pattern: `/echo`, Handler: func() tornago.Handler { return &echoSocket{v: v} }},
		{Pattern: `/broadcast`, Handler: func() tornago.Handler { return &broadcastSocket{v: v} }},
	}, more...), tornago.Settings{Logger: cfg.logger, WebSocketCompression: cfg.compression, WebSocketPingInterval: cfg.ping})
	if err != nil {
		return nil, err
	}
	v.app = app
	return v, nil
}

func (v *frameworkVariant) register(mux *http.ServeMux) { mux.Handle("/", v.app) }

func (v *frameworkVariant) shutdown(ctx context.Context) error { return v.app.Shutdown(ctx) }

// checkOrigin is the default same-origin rule plus ALLOW_ORIGIN.
func (v *frameworkVariant) checkOrigin(h *tornago.WebSocketHandler, origin string) bool {
	return h.CheckOrigin(origin) || (v.allow != "" && strings.EqualFold(origin, v.allow))
}

// echoSocket serves /echo.
type echoSocket struct {
	tornago.WebSocketHandler
	v *frameworkVariant
}

func (h *echoSocket) CheckOrigin(origin string) bool {
	return h.v.checkOrigin(&h.WebSocketHandler, origin)
}

// Open handles ?close=CODE&reason=TEXT: a code that may not be sent is
// refused with 400 before the handshake; a valid one closes the
// connection right after it. Messages are read into pooled buffers: an
// echo keeps no message past OnMessage.
func (h *echoSocket) Open(args ...string) error {
	h.SetReuseMessageBuffers(true)
	closes, err := h.GetQueryArguments("close")
	if err != nil || len(closes) == 0 {
		return err
	}
	code, err := strconv.Atoi(closes[len(closes)-1])
	if err != nil || !websocket.StatusCode(code).Valid() {
		return tornago.HTTPError{Code: http.StatusBadRequest, Message: "close must be a valid close code"}
	}
	reason, _ := h.GetArgument("reason", tornago.Default(""))
	return h.Close(code, reason)
}

func (h *echoSocket) OnMessage(m tornago.Message) error { return h.WriteMessage(m.Data, m.Binary) }

// broadcastSocket serves /broadcast.
type broadcastSocket struct {
	tornago.WebSocketHandler
	v *frameworkVariant
}

func (h *broadcastSocket) CheckOrigin(origin string) bool {
	return h.v.checkOrigin(&h.WebSocketHandler, origin)
}

func (h *broadcastSocket) Open(args ...string) error {
	h.v.update(func(m []*broadcastSocket) []*broadcastSocket { return append(m, h) })
	return nil
}

// OnMessage sends the message to every member, the frame encoded once; a
// member whose send queue overflows is closed without delaying the rest.
func (h *broadcastSocket) OnMessage(m tornago.Message) error {
	_, err := tornago.Broadcast(*h.v.members.Load(), m.Data, m.Binary)
	return err
}

func (h *broadcastSocket) OnClose() {
	h.v.update(func(m []*broadcastSocket) []*broadcastSocket {
		for i, s := range m {
			if s == h {
				return append(m[:i:i], m[i+1:]...)
			}
		}
		return m
	})
}

// update replaces the member list with f's result; f gets a copy.
func (v *frameworkVariant) update(f func([]*broadcastSocket) []*broadcastSocket) {
	v.mu.Lock()
	defer v.mu.Unlock()
	cur := *v.members.Load()
	next := f(append([]*broadcastSocket(nil), cur...))
	v.members.Store(&next)
}
