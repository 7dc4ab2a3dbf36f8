// Command gws is the BENCH.md echo and broadcast server written with
// lxzan/gws as its examples use it: an Upgrader with an event handler and
// a ReadLoop goroutine per connection, WriteMessage from OnMessage for
// /echo, and gws.Broadcaster (the frame encoded once, queued on each
// connection's own write queue) for /broadcast. Options are the defaults
// but for the read limit, which matches tornago's (10 MiB).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/lxzan/gws"
)

const readLimit = 10 << 20

func main() {
	addr := flag.String("addr", "127.0.0.1:8888", "listen address")
	flag.Parse()
	echo := gws.NewUpgrader(&echoHandler{}, &gws.ServerOption{ReadMaxPayloadSize: readLimit})
	bc := &broadcastHandler{members: make(map[*gws.Conn]struct{})}
	broadcast := gws.NewUpgrader(bc, &gws.ServerOption{ReadMaxPayloadSize: readLimit})
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		socket, err := echo.Upgrade(w, r)
		if err != nil {
			return
		}
		if q := r.URL.Query(); q.Has("close") {
			code, _ := strconv.Atoi(q.Get("close"))
			socket.WriteClose(uint16(code), []byte(q.Get("reason")))
		}
		go socket.ReadLoop()
	})
	mux.HandleFunc("/broadcast", func(w http.ResponseWriter, r *http.Request) {
		socket, err := broadcast.Upgrade(w, r)
		if err != nil {
			return
		}
		go socket.ReadLoop()
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}

type echoHandler struct{ gws.BuiltinEventHandler }

func (echoHandler) OnPing(socket *gws.Conn, payload []byte) { socket.WritePong(payload) }

func (echoHandler) OnMessage(socket *gws.Conn, message *gws.Message) {
	defer message.Close()
	socket.WriteMessage(message.Opcode, message.Bytes())
}

type broadcastHandler struct {
	gws.BuiltinEventHandler
	mu      sync.RWMutex
	members map[*gws.Conn]struct{}
}

func (h *broadcastHandler) OnOpen(socket *gws.Conn) {
	h.mu.Lock()
	h.members[socket] = struct{}{}
	h.mu.Unlock()
}

func (h *broadcastHandler) OnClose(socket *gws.Conn, err error) {
	h.mu.Lock()
	delete(h.members, socket)
	h.mu.Unlock()
}

func (h *broadcastHandler) OnPing(socket *gws.Conn, payload []byte) { socket.WritePong(payload) }

func (h *broadcastHandler) OnMessage(socket *gws.Conn, message *gws.Message) {
	defer message.Close()
	b := gws.NewBroadcaster(message.Opcode, message.Bytes())
	defer b.Close()
	h.mu.RLock()
	defer h.mu.RUnlock()
	for m := range h.members {
		b.Broadcast(m)
	}
}
