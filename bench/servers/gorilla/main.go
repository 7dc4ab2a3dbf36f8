// Command gorilla is the BENCH.md echo and broadcast server written with
// gorilla/websocket in the way its documentation and examples use it: an
// Upgrader with default buffers and origin check, ReadMessage/WriteMessage
// for /echo, and for /broadcast a hub that prepares each message once
// (websocket.PreparedMessage) and hands it to one writer goroutine per
// client through a bounded channel. GET /room is gorilla's own chat
// example, for the chat benchmark at scale (room.go).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// readLimit matches tornago's default read limit (10 MiB).
const readLimit = 10 << 20

// queueLen bounds a broadcast client's backlog; a client that falls this
// far behind is dropped.
const queueLen = 256

var upgrader = websocket.Upgrader{} // 4 KiB buffers, same-origin check

func main() {
	addr := flag.String("addr", "127.0.0.1:8888", "listen address")
	flag.Parse()
	h := &hub{clients: make(map[*client]struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("/broadcast", h.serve)
	chat := newRoom()
	go chat.run()
	mux.HandleFunc("/room", chat.serve)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}

// echo sends every message back; ?close=CODE&reason=TEXT closes at once.
func echo(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetReadLimit(readLimit)
	if q := r.URL.Query(); q.Has("close") {
		code, _ := strconv.Atoi(q.Get("close"))
		msg := websocket.FormatCloseMessage(code, q.Get("reason"))
		c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			if _, _, err := c.NextReader(); err != nil {
				return
			}
		}
	}
	for {
		typ, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(typ, msg); err != nil {
			return
		}
	}
}

// hub is the set of /broadcast clients.
type hub struct {
	mu      sync.Mutex
	clients map[*client]struct{}
}

type client struct {
	conn *websocket.Conn
	send chan *websocket.PreparedMessage
}

func (h *hub) serve(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	conn.SetReadLimit(readLimit)
	c := &client{conn: conn, send: make(chan *websocket.PreparedMessage, queueLen)}
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	go c.writePump()
	defer h.remove(c)
	for {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			return
		}
		pm, err := websocket.NewPreparedMessage(typ, msg)
		if err != nil {
			return
		}
		h.publish(pm)
	}
}

// remove forgets c and ends its writer.
func (h *hub) remove(c *client) {
	h.mu.Lock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		close(c.send)
	}
	h.mu.Unlock()
	c.conn.Close()
}

// publish queues pm for every client; a client whose queue is full is dropped.
func (h *hub) publish(pm *websocket.PreparedMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c.send <- pm:
		default:
			delete(h.clients, c)
			close(c.send)
			c.conn.Close()
		}
	}
}

func (c *client) writePump() {
	for pm := range c.send {
		if err := c.conn.WritePreparedMessage(pm); err != nil {
			c.conn.Close()
			for range c.send {
			}
			return
		}
	}
	c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
}
