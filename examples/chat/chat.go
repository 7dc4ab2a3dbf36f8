package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"sync"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/websocket"
)

// cacheSize is how many messages the page shows (ChatSocketHandler.cache_size).
const cacheSize = 200

// message is one chat message, the dict chatdemo.py builds: sent to every
// member as JSON and kept in the cache for the page.
type message struct {
	ID   string `json:"id"`   // a random UUID (version 4)
	Body string `json:"body"` // what the member typed
	HTML string `json:"html"` // message.html rendered for this message
}

// LinkifiedBody is the body escaped for HTML with its links made clickable,
// as message.html's tornado.escape.linkify(message["body"]).
func (m message) LinkifiedBody() template.HTML { return linkify(m.Body) }

// chat is ChatSocketHandler's class state: the cache of recent messages and
// the room that delivers new ones.
type chat struct {
	room room

	mu    sync.Mutex // orders post: every member sees messages in cache order
	cache []message  // the last cacheSize messages, oldest first
}

func newChat(r room) *chat { return &chat{room: r} }

// messages returns a copy of the cache, oldest first.
func (c *chat) messages() []message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]message(nil), c.cache...)
}

// post adds m to the cache and sends it to every member (update_cache, then
// send_updates). Sending only queues the frame on each connection, so
// holding the lock meanwhile costs little and keeps one order for all.
func (c *chat) post(m message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cache = append(c.cache, m)
	if len(c.cache) > cacheSize {
		c.cache = append(c.cache[:0:0], c.cache[len(c.cache)-cacheSize:]...)
	}
	return c.room.send(data)
}

// room delivers messages to the connected members. It is the seam for
// scaling out: localRoom serves one process; an implementation backed by a
// shared hub (Redis, NATS, ...) can take its place without touching the
// handlers.
type room interface {
	// join adds s; messages sent from now on reach it.
	join(s *chatSocket)
	// leave removes s.
	leave(s *chatSocket)
	// send delivers one encoded message to every member, sender included.
	send(data []byte) error
}

// localRoom is the in-process room: ChatSocketHandler.waiters.
type localRoom struct {
	logger *slog.Logger

	mu      sync.Mutex
	members map[*chatSocket]struct{}
}

func newLocalRoom(logger *slog.Logger) *localRoom {
	return &localRoom{logger: logger, members: map[*chatSocket]struct{}{}}
}

func (r *localRoom) join(s *chatSocket) {
	r.mu.Lock()
	r.members[s] = struct{}{}
	r.mu.Unlock()
}

func (r *localRoom) leave(s *chatSocket) {
	r.mu.Lock()
	delete(r.members, s)
	r.mu.Unlock()
}

// send encodes the frame once for all members (Tornado encodes it per
// waiter). A member whose send queue is full is closed by tornago without
// holding up the others; its error is only logged, as send_updates does.
func (r *localRoom) send(data []byte) error {
	r.mu.Lock()
	members := make([]*chatSocket, 0, len(r.members))
	for s := range r.members {
		members = append(members, s)
	}
	r.mu.Unlock()
	r.logger.Info("sending message", "waiters", len(members))
	if _, err := tornago.Broadcast(members, data, false); err != nil {
		r.logger.Error("error sending message", "error", err)
	}
	return nil
}

// mainHandler serves the page (MainHandler).
type mainHandler struct {
	tornago.RequestHandler
	chat *chat
}

// Get renders index.html with the cached messages.
func (h *mainHandler) Get(args ...string) error {
	return h.Render("index.html", struct{ Messages []message }{h.chat.messages()})
}

// chatSocket is one member's connection (ChatSocketHandler).
type chatSocket struct {
	tornago.WebSocketHandler
	chat *chat
}

// Open joins the room. It runs before the 101, so a member is in the room
// by the time its client sees the handshake succeed.
func (h *chatSocket) Open(args ...string) error {
	h.chat.room.join(h)
	return nil
}

// OnClose leaves the room.
func (h *chatSocket) OnClose() { h.chat.room.leave(h) }

// OnMessage takes {"body": "..."} (other fields, such as the form's _xsrf,
// are ignored, as in the demo), renders message.html for it and posts it.
// Anything else closes the connection with 1003 (unsupported data).
func (h *chatSocket) OnMessage(m tornago.Message) error {
	h.Logger().Info("got message", "message", m.Text())
	var in struct {
		Body *string `json:"body"`
	}
	if m.Binary || json.Unmarshal(m.Data, &in) != nil || in.Body == nil {
		return h.Close(int(websocket.StatusUnsupportedData), `expected {"body": "..."}`)
	}
	msg := message{ID: newID(), Body: *in.Body}
	html, err := h.RenderString("message.html", msg)
	if err != nil {
		return err
	}
	msg.HTML = string(html)
	return h.chat.post(msg)
}

// newID returns a random (version 4) UUID, as str(uuid.uuid4()).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
