// Command coder is the BENCH.md echo and broadcast server written with
// coder/websocket as its documentation shows: websocket.Accept with the
// default options (same-origin check), Read/Write with the request's
// context for /echo, and for /broadcast one writer goroutine per client
// fed through a bounded channel (the library has no prepared messages).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/coder/websocket"
)

// readLimit matches tornago's default read limit (10 MiB).
const readLimit = 10 << 20

// queueLen bounds a broadcast client's backlog.
const queueLen = 256

func main() {
	addr := flag.String("addr", "127.0.0.1:8888", "listen address")
	flag.Parse()
	h := &hub{clients: make(map[*client]struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("/broadcast", h.serve)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}

// echo sends every message back; ?close=CODE&reason=TEXT closes at once.
func echo(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(readLimit)
	if q := r.URL.Query(); q.Has("close") {
		code, _ := strconv.Atoi(q.Get("close"))
		c.Close(websocket.StatusCode(code), q.Get("reason"))
		return
	}
	ctx := r.Context()
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		if err := c.Write(ctx, typ, msg); err != nil {
			return
		}
	}
}

type message struct {
	typ  websocket.MessageType
	data []byte
}

type hub struct {
	mu      sync.Mutex
	clients map[*client]struct{}
}

type client struct {
	conn   *websocket.Conn
	send   chan message
	cancel context.CancelFunc
}

func (h *hub) serve(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	conn.SetReadLimit(readLimit)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	c := &client{conn: conn, send: make(chan message, queueLen), cancel: cancel}
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	defer h.remove(c)
	go c.writeLoop(ctx)
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		h.publish(message{typ, data})
	}
}

func (h *hub) remove(c *client) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
}

// publish queues m for every client; a client whose queue is full is dropped.
func (h *hub) publish(m message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c.send <- m:
		default:
			delete(h.clients, c)
			c.cancel()
		}
	}
}

func (c *client) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-c.send:
			if err := c.conn.Write(ctx, m.typ, m.data); err != nil {
				c.cancel()
				return
			}
		}
	}
}
