package main

import (
	"bytes"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// GET /room is gorilla/websocket's own chat example (examples/chat,
// hub.go and client.go, v1.5.3) with its constants, written out here: one
// hub goroutine owns the member set and takes registrations,
// unregistrations and broadcasts over channels; each member has a
// readPump (the connection's goroutine) and a writePump goroutine fed by
// a buffered send channel of 256 messages, which writes the messages
// queued meanwhile into the same text frame separated by newlines, and
// pings every 54 s. A member whose channel is full is dropped.
const (
	roomWriteWait      = 10 * time.Second
	roomPongWait       = 60 * time.Second
	roomPingPeriod     = roomPongWait * 9 / 10
	roomMaxMessageSize = 512
	roomSendLen        = 256
)

var (
	newline = []byte{'\n'}
	space   = []byte{' '}
)

// roomUpgrader is the chat example's: 1 KiB buffers, same-origin check.
var roomUpgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024}

// room is the chat example's Hub.
type room struct {
	members    map[*member]bool
	broadcast  chan []byte
	register   chan *member
	unregister chan *member
}

// member is the chat example's Client.
type member struct {
	room *room
	conn *websocket.Conn
	send chan []byte
}

func newRoom() *room {
	return &room{
		members:    make(map[*member]bool),
		broadcast:  make(chan []byte),
		register:   make(chan *member),
		unregister: make(chan *member),
	}
}

// run is the hub goroutine.
func (r *room) run() {
	for {
		select {
		case m := <-r.register:
			r.members[m] = true
		case m := <-r.unregister:
			if _, ok := r.members[m]; ok {
				delete(r.members, m)
				close(m.send)
			}
		case msg := <-r.broadcast:
			for m := range r.members {
				select {
				case m.send <- msg:
				default:
					close(m.send)
					delete(r.members, m)
				}
			}
		}
	}
}

// serve upgrades a member and starts its pumps.
func (r *room) serve(w http.ResponseWriter, req *http.Request) {
	conn, err := roomUpgrader.Upgrade(w, req, nil)
	if err != nil {
		return
	}
	m := &member{room: r, conn: conn, send: make(chan []byte, roomSendLen)}
	r.register <- m
	go m.writePump()
	go m.readPump()
}

// readPump hands every message, newlines made spaces, to the hub.
func (m *member) readPump() {
	defer func() {
		m.room.unregister <- m
		m.conn.Close()
	}()
	m.conn.SetReadLimit(roomMaxMessageSize)
	m.conn.SetReadDeadline(time.Now().Add(roomPongWait))
	m.conn.SetPongHandler(func(string) error { return m.conn.SetReadDeadline(time.Now().Add(roomPongWait)) })
	for {
		_, msg, err := m.conn.ReadMessage()
		if err != nil {
			return
		}
		m.room.broadcast <- bytes.TrimSpace(bytes.ReplaceAll(msg, newline, space))
	}
}

// writePump writes what the hub sends, joining the messages queued
// meanwhile into one frame, and pings.
func (m *member) writePump() {
	ticker := time.NewTicker(roomPingPeriod)
	defer func() {
		ticker.Stop()
		m.conn.Close()
	}()
	for {
		select {
		case msg, ok := <-m.send:
			m.conn.SetWriteDeadline(time.Now().Add(roomWriteWait))
			if !ok {
				m.conn.WriteMessage(websocket.CloseMessage, []byte{})
				return
			}
			w, err := m.conn.NextWriter(websocket.TextMessage)
			if err != nil {
				return
			}
			w.Write(msg)
			for range len(m.send) {
				w.Write(newline)
				w.Write(<-m.send)
			}
			if err := w.Close(); err != nil {
				return
			}
		case <-ticker.C:
			m.conn.SetWriteDeadline(time.Now().Add(roomWriteWait))
			if err := m.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}
