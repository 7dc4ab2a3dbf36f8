package chatserver

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"sync"
	"time"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/websocket"
)

// publishTimeout bounds how long posting a message waits for the broker
// that carries it to other processes; local members have it by then.
const publishTimeout = 5 * time.Second

// CacheSize is how many messages the page shows (ChatSocketHandler.cache_size).
const CacheSize = 200

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

// Room delivers messages to the connected members: ChatSocketHandler's
// waiters, behind an interface so that one process or many can serve the
// same chat without touching the handlers. HubRoom is the implementation.
type Room interface {
	// Join adds m; messages sent from now on reach it.
	Join(m hub.Member)
	// Leave removes m.
	Leave(m hub.Member)
	// Send delivers one encoded message to every member, the sender
	// included, on this process and on every other one sharing the room.
	// All members of one process see the messages in one order.
	Send(ctx context.Context, data []byte) error
}

// chat is ChatSocketHandler's class state: the room that delivers new
// messages and the cache of recent ones.
//
// The cache is itself a member of the room (cacheMember), not written by
// post: a message posted on another process reaches it as it reaches the
// sockets, so every process's page shows what its members saw, in the
// order they saw it.
type chat struct {
	room Room

	mu    sync.Mutex
	cache []message // the last CacheSize messages, oldest first
}

// newChat returns a chat over r, its cache joined to r.
func newChat(r Room) *chat {
	c := &chat{room: r}
	r.Join(cacheMember{c})
	return c
}

// messages returns a copy of the cache, oldest first.
func (c *chat) messages() []message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]message(nil), c.cache...)
}

// add appends m to the cache, dropping the oldest beyond CacheSize
// (update_cache).
func (c *chat) add(m message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cache = append(c.cache, m)
	if len(c.cache) > CacheSize {
		c.cache = append(c.cache[:0:0], c.cache[len(c.cache)-CacheSize:]...)
	}
}

// post sends m to every member (send_updates); the cache gets it as a
// member. It must not hold c.mu: the room delivers to the cache before it
// returns. publishTimeout bounds the wait for other processes' broker.
func (c *chat) post(m message) error {
	// json_encode(chat), as the demo: the HTML was escaped once, by
	// message.html, and is not escaped again inside the JSON, so a body of
	// 64 KiB of "<" goes out as 320 KB to every member, not 975 KB.
	data, err := tornago.JSONEncode(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	return c.room.Send(ctx, data)
}

// cacheMember is the cache's seat in the room: it keeps every message
// delivered on this process, whoever posted it.
type cacheMember struct{ c *chat }

// WritePrepared implements hub.Member. It only decodes and appends, so it
// neither blocks nor calls back into the room.
func (m cacheMember) WritePrepared(pm *websocket.PreparedMessage) error {
	var msg message
	if err := json.Unmarshal(pm.Data(), &msg); err != nil {
		return nil // not a chat message; nothing to show
	}
	m.c.add(msg)
	return nil
}

// roomName is the hub room every member of the chat is in.
const roomName = "chat"

// HubRoom is a Room over a hub: in one process with hub.New(), across
// processes with a broker (hub/redisbroker). The hub encodes each frame
// once for all members and queues it on their send queues, so a slow member
// is closed by tornago without holding up the others.
type HubRoom struct {
	hub    *hub.Hub
	logger *slog.Logger
}

// NewHubRoom returns the chat room of h; logger receives what send_updates
// logs.
func NewHubRoom(h *hub.Hub, logger *slog.Logger) *HubRoom {
	return &HubRoom{hub: h, logger: logger}
}

// Join implements Room.
func (r *HubRoom) Join(m hub.Member) { r.hub.Join(roomName, m) }

// Leave implements Room.
func (r *HubRoom) Leave(m hub.Member) { r.hub.Leave(roomName, m) }

// Send implements Room. A publish that reached this process's members but
// not the others (the broker is down: hub.ErrLocalOnly) is logged and not
// returned, so the sender's socket stays open and the chat goes on
// locally, as send_updates logs a failed write and carries on.
func (r *HubRoom) Send(ctx context.Context, data []byte) error {
	// The cache is a member too; the page's sockets are the others.
	r.logger.Info("sending message", "waiters", r.hub.Presence(roomName)-1)
	err := r.hub.Publish(ctx, roomName, data, false)
	if errors.Is(err, hub.ErrLocalOnly) {
		r.logger.Error("error sending message to other processes", "error", err)
		return nil
	}
	return err
}

// mainHandler serves the page (MainHandler).
type mainHandler struct {
	tornago.RequestHandler
	chat *chat
}

// Get renders index.html with the cached messages.
func (h *mainHandler) Get(args ...string) error {
	return h.Render("index.html", struct {
		Messages           []message
		ReconnectJSVersion string
	}{h.chat.messages(), tornago.ReconnectJSVersion})
}

// chatSocket is one member's connection (ChatSocketHandler).
type chatSocket struct {
	tornago.WebSocketHandler
	chat *chat
}

// Open joins the room. It runs before the 101, so a member is in the room
// by the time its client sees the handshake succeed.
func (h *chatSocket) Open(args ...string) error {
	h.chat.room.Join(h)
	return nil
}

// OnClose leaves the room.
func (h *chatSocket) OnClose() { h.chat.room.Leave(h) }

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
