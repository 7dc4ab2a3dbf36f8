// Command tornagoprof is a profiling twin of examples/echo's /echo and
// /broadcast (examples/echo itself has no profiling flags): the same two
// variants, tornago.WebSocketHandler by default and the bare core with
// -core, with -cpuprofile written when the server stops (SIGTERM or
// SIGINT) and a heap profile written to -memprofile on SIGUSR1, after a
// GC, for looking at what idle connections hold. It is not one of the
// benchmarked servers; bench/README.md shows how to use it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/websocket"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8888", "listen address")
	core := flag.Bool("core", false, "serve with the bare websocket core instead of tornago.WebSocketHandler")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here when the server stops")
	memprofile := flag.String("memprofile", "", "write a heap profile here on SIGUSR1")
	flag.Parse()

	var h http.Handler
	if *core {
		h = newCore()
	} else {
		h = newFramework()
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			writeHeap(*memprofile)
		}
	}()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	go http.Serve(ln, h)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	<-ctx.Done()
}

// writeHeap writes a heap profile to path (if set) and the runtime's
// memory figures to standard error.
func writeHeap(path string) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Fprintf(os.Stderr, "goroutines %d, heap in use %d KiB, heap idle %d KiB (released %d KiB), stacks %d KiB, other runtime %d KiB\n",
		runtime.NumGoroutine(), m.HeapInuse>>10, m.HeapIdle>>10, m.HeapReleased>>10, m.StackInuse>>10, (m.MSpanInuse+m.MCacheInuse+m.BuckHashSys+m.GCSys+m.OtherSys)>>10)
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		log.Print(err)
		return
	}
	defer f.Close()
	pprof.Lookup("heap").WriteTo(f, 0)
}

// newCore serves the endpoints with websocket.Accept alone.
func newCore() http.Handler {
	var mu sync.Mutex
	subs := map[*websocket.Conn]chan *websocket.PreparedMessage{}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := context.Background()
		for {
			typ, msg, err := c.ReadMessage(ctx)
			if err != nil {
				return
			}
			if err := c.WriteMessage(ctx, typ, msg); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/broadcast", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		q := make(chan *websocket.PreparedMessage, 256)
		mu.Lock()
		subs[c] = q
		mu.Unlock()
		defer func() {
			mu.Lock()
			delete(subs, c)
			mu.Unlock()
			close(q)
		}()
		go func() {
			for pm := range q {
				if c.WritePrepared(context.Background(), pm) != nil {
					c.CloseNow()
				}
			}
		}()
		for {
			typ, msg, err := c.ReadMessage(context.Background())
			if err != nil {
				return
			}
			pm, err := websocket.NewPreparedMessage(typ, msg)
			if err != nil {
				return
			}
			mu.Lock()
			for _, s := range subs {
				select {
				case s <- pm:
				default:
				}
			}
			mu.Unlock()
		}
	})
	return mux
}

// newFramework serves the endpoints with tornago.WebSocketHandler.
func newFramework() http.Handler {
	members := &atomic.Pointer[[]*broadcastSocket]{}
	members.Store(&[]*broadcastSocket{})
	var mu sync.Mutex
	update := func(f func([]*broadcastSocket) []*broadcastSocket) {
		mu.Lock()
		defer mu.Unlock()
		next := f(append([]*broadcastSocket(nil), *members.Load()...))
		members.Store(&next)
	}
	app, err := tornago.NewApplication([]tornago.Route{
		{Pattern: `/echo`, Handler: func() tornago.Handler { return &echoSocket{} }},
		{Pattern: `/broadcast`, Handler: func() tornago.Handler { return &broadcastSocket{members: members, update: update} }},
	}, tornago.Settings{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}) // no access log
	if err != nil {
		log.Fatal(err)
	}
	return app
}

type echoSocket struct{ tornago.WebSocketHandler }

func (h *echoSocket) OnMessage(m tornago.Message) error { return h.WriteMessage(m.Data, m.Binary) }

type broadcastSocket struct {
	tornago.WebSocketHandler
	members *atomic.Pointer[[]*broadcastSocket]
	update  func(func([]*broadcastSocket) []*broadcastSocket)
}

func (h *broadcastSocket) Open(args ...string) error {
	h.update(func(m []*broadcastSocket) []*broadcastSocket { return append(m, h) })
	return nil
}

func (h *broadcastSocket) OnMessage(m tornago.Message) error {
	_, err := tornago.Broadcast(*h.members.Load(), m.Data, m.Binary)
	return err
}

func (h *broadcastSocket) OnClose() {
	h.update(func(m []*broadcastSocket) []*broadcastSocket {
		for i, s := range m {
			if s == h {
				return append(m[:i:i], m[i+1:]...)
			}
		}
		return m
	})
}
