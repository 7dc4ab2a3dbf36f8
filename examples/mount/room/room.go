// Package room is the WebSocket handler that examples/mount mounts in
// other routers: http.ServeMux in the example's program, chi and
// gorilla/mux in its nested module examples/mount/routers. The handler
// knows nothing of the router: it reads the room from its path kwarg
// "room" (h.PathKwarg) and an optional nickname from its first positional
// argument, whichever router filled them in.
package room

import (
	"net/http"
	"sync"

	"github.com/tornago/tornago"
)

// Hub holds the members of every room. The zero value is ready to use.
type Hub struct {
	mu    sync.Mutex
	rooms map[string]map[*Socket]bool
}

// Factory makes one Socket per connection, all sharing h.
func (h *Hub) Factory() tornago.Factory {
	return func() tornago.Handler { return &Socket{hub: h} }
}

// Members returns how many connections are in room.
func (h *Hub) Members(room string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.rooms[room])
}

func (h *Hub) join(s *Socket) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rooms == nil {
		h.rooms = map[string]map[*Socket]bool{}
	}
	if h.rooms[s.room] == nil {
		h.rooms[s.room] = map[*Socket]bool{}
	}
	h.rooms[s.room][s] = true
}

func (h *Hub) leave(s *Socket) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.rooms[s.room], s)
	if len(h.rooms[s.room]) == 0 {
		delete(h.rooms, s.room)
	}
}

// members copies room's members, so that a broadcast runs unlocked.
func (h *Hub) members(room string) []*Socket {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := make([]*Socket, 0, len(h.rooms[room]))
	for s := range h.rooms[room] {
		l = append(l, s)
	}
	return l
}

// Socket is one connection to a room. Its first message is
// "joined ROOM" (or "joined ROOM as NICK"); after that every text message
// from a member goes to every member of the same room as "NICK: text".
type Socket struct {
	tornago.WebSocketHandler
	hub  *Hub
	room string
	nick string
}

// Open joins the room named by the path kwarg "room"; a positional
// argument, if the router supplies one, is the nickname.
func (s *Socket) Open(args ...string) error {
	s.room = s.PathKwarg("room")
	if s.room == "" {
		return tornago.HTTPError{Code: http.StatusNotFound, Message: "no room in the path"}
	}
	s.nick = "anon"
	greeting := "joined " + s.room
	if len(args) > 0 && args[0] != "" {
		s.nick = args[0]
		greeting += " as " + s.nick
	}
	if err := s.WriteText(greeting); err != nil {
		return err
	}
	s.hub.join(s) // last: once Open succeeds, OnClose is sure to leave
	return nil
}

// OnMessage relays a text message to the room; binary ones are refused.
func (s *Socket) OnMessage(m tornago.Message) error {
	if m.Binary {
		return s.Close(1003, "text only")
	}
	_, err := tornago.Broadcast(s.hub.members(s.room), []byte(s.nick+": "+m.Text()), false)
	return err
}

// OnClose leaves the room.
func (s *Socket) OnClose() { s.hub.leave(s) }
