// Command gobwas is the BENCH.md echo and broadcast server written with
// gobwas/ws the way its README shows for speed: the zero-copy upgrade on
// the raw TCP connection (ws.Upgrader, no net/http), then wsutil's Reader
// and Writer over it, one goroutine per connection. /broadcast compiles
// each frame once (ws.CompileFrame) and writes the bytes to every client
// from one writer goroutine per client. The origin rule is the same-origin
// rule of the other servers (Origin absent, or its host equal to Host).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// readLimit matches tornago's default read limit (10 MiB), per frame here.
const readLimit = 10 << 20

// queueLen bounds a broadcast client's backlog.
const queueLen = 256

func main() {
	addr := flag.String("addr", "127.0.0.1:8888", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	h := &hub{clients: make(map[*client]struct{})}
	for {
		conn, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(conn, h)
	}
}

// request is what the upgrade callbacks collect.
type request struct {
	uri, host, origin string
}

func serve(conn net.Conn, h *hub) {
	defer conn.Close()
	var req request
	u := ws.Upgrader{
		OnRequest: func(uri []byte) error { req.uri = string(uri); return nil },
		OnHost:    func(host []byte) error { req.host = string(host); return nil },
		OnHeader: func(key, value []byte) error {
			if strings.EqualFold(string(key), "Origin") {
				req.origin = string(value)
			}
			return nil
		},
		OnBeforeUpgrade: func() (ws.HandshakeHeader, error) {
			if req.origin != "" {
				o, err := url.Parse(req.origin)
				if err != nil || !strings.EqualFold(o.Host, req.host) {
					return nil, ws.RejectConnectionError(ws.RejectionStatus(403), ws.RejectionReason("Cross origin websockets not allowed"))
				}
			}
			return nil, nil
		},
	}
	if _, err := u.Upgrade(conn); err != nil {
		return
	}
	path, query, _ := strings.Cut(req.uri, "?")
	switch path {
	case "/echo":
		q, _ := url.ParseQuery(query)
		if q.Has("close") {
			code, _ := strconv.Atoi(q.Get("close"))
			ws.WriteFrame(conn, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), q.Get("reason"))))
			io.Copy(io.Discard, conn) // until the peer's close ends the TCP connection
			return
		}
		echo(conn)
	case "/broadcast":
		h.serve(conn)
	}
}

// newReader reads client frames from a buffered conn, answering control
// frames through w.
func newReader(conn net.Conn, w io.Writer) *wsutil.Reader {
	return &wsutil.Reader{
		Source:         bufio.NewReader(conn),
		State:          ws.StateServerSide,
		MaxFrameSize:   readLimit,
		OnIntermediate: wsutil.ControlFrameHandler(w, ws.StateServerSide),
	}
}

func echo(conn net.Conn) {
	r := newReader(conn, conn)
	w := wsutil.NewWriter(conn, ws.StateServerSide, ws.OpText)
	for {
		hdr, err := r.NextFrame()
		if err != nil {
			return
		}
		if hdr.OpCode.IsControl() {
			if err := r.OnIntermediate(hdr, r); err != nil {
				return
			}
			continue
		}
		w.Reset(conn, ws.StateServerSide, hdr.OpCode)
		if _, err := io.Copy(w, r); err != nil {
			return
		}
		if err := w.Flush(); err != nil {
			return
		}
	}
}

type hub struct {
	mu      sync.Mutex
	clients map[*client]struct{}
}

type client struct {
	mu   sync.Mutex // serializes writes to conn
	conn net.Conn
	send chan []byte
}

func (c *client) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn.Write(p)
}

func (h *hub) serve(conn net.Conn) {
	c := &client{conn: conn, send: make(chan []byte, queueLen)}
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	go c.writeLoop()
	defer h.remove(c)
	r := newReader(conn, c)
	var buf bytes.Buffer
	for {
		hdr, err := r.NextFrame()
		if err != nil {
			return
		}
		if hdr.OpCode.IsControl() {
			if err := r.OnIntermediate(hdr, r); err != nil {
				return
			}
			continue
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return
		}
		frame, err := ws.CompileFrame(ws.NewFrame(hdr.OpCode, true, buf.Bytes()))
		if err != nil {
			return
		}
		h.publish(frame)
	}
}

func (h *hub) remove(c *client) {
	h.mu.Lock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		close(c.send)
	}
	h.mu.Unlock()
}

// publish queues frame for every client; a client whose queue is full is dropped.
func (h *hub) publish(frame []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c.send <- frame:
		default:
			delete(h.clients, c)
			close(c.send)
			c.conn.Close()
		}
	}
}

func (c *client) writeLoop() {
	for frame := range c.send {
		if _, err := c.Write(frame); err != nil {
			c.conn.Close()
			for range c.send {
			}
			return
		}
	}
}
