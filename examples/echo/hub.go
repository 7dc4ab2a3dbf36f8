package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/hub"
)

// roomName is the one hub room of GET /room.
const roomName = "room"

// hubVariant is the handler variant (framework.go's handlers for /echo
// and /broadcast) with GET /room on top, for the chat benchmark: a chat
// room built the way examples/chat builds one, a tornago.WebSocketHandler
// per member that joins a hub room in Open, publishes every message it
// gets to the room in OnMessage and leaves in OnClose. The room relays
// each message unchanged, with its type, to every member, the sender
// included, the frame encoded once per publish. main selects it with -hub.
type hubVariant struct {
	*frameworkVariant
	rooms *hub.Hub
}

func newHubVariant(cfg config) (*hubVariant, error) {
	v := &hubVariant{rooms: hub.New()}
	fw, err := newFrameworkVariant(cfg, tornago.Route{Pattern: `/room`, Handler: func() tornago.Handler { return &roomSocket{v: v} }})
	if err != nil {
		v.rooms.Close()
		return nil, err
	}
	v.frameworkVariant = fw
	return v, nil
}

func (v *hubVariant) register(mux *http.ServeMux) { mux.Handle("/", v.app) }

// shutdown closes every WebSocket (each OnClose leaves the room), then
// the hub.
func (v *hubVariant) shutdown(ctx context.Context) error {
	return errors.Join(v.app.Shutdown(ctx), v.rooms.Close())
}

// roomSocket is one member of /room.
type roomSocket struct {
	tornago.WebSocketHandler
	v *hubVariant
}

func (h *roomSocket) CheckOrigin(origin string) bool {
	return h.v.checkOrigin(&h.WebSocketHandler, origin)
}

// Open joins the room; it runs before the 101, so a member is in the room
// by the time its client has the handshake's answer.
func (h *roomSocket) Open(args ...string) error {
	h.v.rooms.Join(roomName, h)
	return nil
}

// OnMessage publishes the message to the room. The in-memory hub does not
// fail a publish; a member whose send queue overflows is closed (1008)
// and dropped by the hub without delaying the others.
func (h *roomSocket) OnMessage(m tornago.Message) error {
	return h.v.rooms.Publish(context.Background(), roomName, m.Data, m.Binary)
}

func (h *roomSocket) OnClose() { h.v.rooms.LeaveAll(h) }
