package interop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
	"github.com/lxzan/gws"

	"github.com/tornago/tornago/websocket"
)

// Benchmarks of permessage-deflate in tornago, gorilla/websocket (which
// compresses only without context takeover), coder/websocket and
// lxzan/gws, each talking to itself over loopback TCP at its default
// compression level (1, BestSpeed, for all four) and otherwise with its
// defaults. gws's server answers a context-takeover offer with 4 KiB
// windows (server_max_window_bits=12, client_max_window_bits=12), and it
// delivers messages to a callback rather than to a read call: see gwsConn
// for how that is bridged.
//
//	cd interop && go test -run '^$' -bench 'Deflate' -benchtime 2000x .
//
// BenchmarkDeflateMessage reports, per one-way message (compress, mask,
// send, receive, inflate), the wall time, the CPU time of the whole
// process (both ends, garbage collection included) and the compression
// ratio on the wire. BenchmarkDeflateIdleConnMemory reports what an idle
// server connection keeps after one compressed message each way, with the
// clients in a child process so that only the server's memory is counted.

// benchLib is one library with compression on in one mode, or off.
type benchLib struct {
	name string
	mode string // "off", "no-context-takeover", "context-takeover"
}

var benchLibs = []benchLib{
	{"tornago", "off"},
	{"tornago", "no-context-takeover"},
	{"tornago", "context-takeover"},
	{"gorilla", "off"},
	{"gorilla", "no-context-takeover"},
	{"coder", "off"},
	{"coder", "no-context-takeover"},
	{"coder", "context-takeover"},
	{"gws", "off"},
	{"gws", "no-context-takeover"},
	{"gws", "context-takeover"},
}

// tornagoCompression returns our options for a mode (nil: off).
func tornagoCompression(mode string) *websocket.CompressionOptions {
	switch mode {
	case "no-context-takeover":
		return &websocket.CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
	case "context-takeover":
		return &websocket.CompressionOptions{}
	}
	return nil
}

func coderMode(mode string) coder.CompressionMode {
	switch mode {
	case "no-context-takeover":
		return coder.CompressionNoContextTakeover
	case "context-takeover":
		return coder.CompressionContextTakeover
	}
	return coder.CompressionDisabled
}

// gwsDeflate returns gws's compression settings for a mode, the rest at
// gws's defaults.
func gwsDeflate(mode string) gws.PermessageDeflate {
	takeover := mode == "context-takeover"
	return gws.PermessageDeflate{Enabled: mode != "off", ServerContextTakeover: takeover, ClientContextTakeover: takeover}
}

// benchEnd is one end of a benchmark connection.
type benchEnd struct {
	write func(ctx context.Context, p []byte) error
	read  func(ctx context.Context) ([]byte, error)
	close func()
	// serve, when set, is how an idle server connection of
	// BenchmarkDeflateIdleConnMemory answers one message with its echo
	// and then waits for the client to go, instead of read, write, read:
	// a library that calls back with messages echoes from the callback on
	// the one goroutine that serves the connection.
	serve func()
}

func tornagoEnd(c *websocket.Conn) benchEnd {
	return benchEnd{
		write: func(ctx context.Context, p []byte) error { return c.WriteMessage(ctx, websocket.TextMessage, p) },
		read: func(ctx context.Context) ([]byte, error) {
			_, p, err := c.ReadMessage(ctx)
			return p, err
		},
		close: func() { _ = c.CloseNow() },
	}
}

func gorillaEnd(c *gorilla.Conn) benchEnd {
	return benchEnd{
		write: func(_ context.Context, p []byte) error { return c.WriteMessage(gorilla.TextMessage, p) },
		read: func(context.Context) ([]byte, error) {
			_, p, err := c.ReadMessage()
			return p, err
		},
		close: func() { _ = c.NetConn().Close() },
	}
}

func coderEnd(c *coder.Conn) benchEnd {
	c.SetReadLimit(-1)
	return benchEnd{
		write: func(ctx context.Context, p []byte) error { return c.Write(ctx, coder.MessageText, p) },
		read: func(ctx context.Context) ([]byte, error) {
			_, p, err := c.Read(ctx)
			return p, err
		},
		close: func() { _ = c.CloseNow() },
	}
}

// gwsSessionKey is where a gws connection's session keeps its gwsConn.
const gwsSessionKey = "bench"

// gwsConn bridges gws, which runs each connection's reads in ReadLoop and
// hands every message to the event handler's OnMessage, to benchEnd's
// read. OnMessage passes the message over an unbuffered channel, so
// ReadLoop reads at most one message ahead of the reader; the message's
// buffer goes back to gws's pool at the next read, as a gws handler
// would release it when done. The hand-over costs one goroutine switch
// per message that a gws program echoing from OnMessage would not pay.
type gwsConn struct {
	c     *gws.Conn
	msgs  chan *gws.Message
	done  chan struct{} // closed by close: OnMessage stops waiting
	gone  chan struct{} // closed by OnClose, after err is set
	err   error
	start sync.Once
	last  *gws.Message
	// echo makes OnMessage write every message back and release it.
	echo bool
	once sync.Once
}

// gwsHandler is the event handler of every gws connection here; it finds
// the connection's gwsConn in its session.
type gwsHandler struct{ gws.BuiltinEventHandler }

func gwsState(socket *gws.Conn) *gwsConn {
	v, _ := socket.Session().Load(gwsSessionKey)
	return v.(*gwsConn)
}

// OnMessage hands m to the reader, or echoes it in echo mode.
func (gwsHandler) OnMessage(socket *gws.Conn, m *gws.Message) {
	g := gwsState(socket)
	if g.echo {
		_ = socket.WriteMessage(m.Opcode, m.Bytes())
		_ = m.Close()
		return
	}
	select {
	case g.msgs <- m:
	case <-g.done:
		_ = m.Close()
	}
}

// OnClose lets a waiting reader see why ReadLoop ended.
func (gwsHandler) OnClose(socket *gws.Conn, err error) {
	g := gwsState(socket)
	g.err = err
	if g.err == nil {
		g.err = io.EOF
	}
	close(g.gone)
}

func gwsEnd(c *gws.Conn) benchEnd {
	g := &gwsConn{c: c, msgs: make(chan *gws.Message), done: make(chan struct{}), gone: make(chan struct{})}
	c.Session().Store(gwsSessionKey, g)
	return benchEnd{
		write: func(_ context.Context, p []byte) error { return c.WriteMessage(gws.OpcodeText, p) },
		read: func(ctx context.Context) ([]byte, error) {
			g.start.Do(func() { go c.ReadLoop() })
			if g.last != nil {
				_ = g.last.Close()
				g.last = nil
			}
			select {
			case m := <-g.msgs:
				g.last = m
				return m.Bytes(), nil
			case <-g.gone:
				return nil, g.err
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
		close: func() {
			g.once.Do(func() { close(g.done) })
			_ = c.NetConn().Close()
		},
		serve: func() {
			g.echo = true
			g.start.Do(c.ReadLoop)
		},
	}
}

// benchUpgrader returns the server side of lib. A gws server shares a pool
// of compressors (32 by default) among the connections of one Upgrader,
// made with it, so one is made per server, here.
func benchUpgrader(lib benchLib) func(w http.ResponseWriter, r *http.Request) (benchEnd, error) {
	if lib.name == "gws" {
		u := gws.NewUpgrader(gwsHandler{}, &gws.ServerOption{PermessageDeflate: gwsDeflate(lib.mode)})
		return func(w http.ResponseWriter, r *http.Request) (benchEnd, error) {
			c, err := u.Upgrade(w, r)
			if err != nil {
				return benchEnd{}, err
			}
			return gwsEnd(c), nil
		}
	}
	return func(w http.ResponseWriter, r *http.Request) (benchEnd, error) { return benchUpgrade(lib, w, r) }
}

// benchUpgrade is the server side of lib, for the libraries other than gws.
func benchUpgrade(lib benchLib, w http.ResponseWriter, r *http.Request) (benchEnd, error) {
	switch lib.name {
	case "tornago":
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			Compression: tornagoCompression(lib.mode),
			ConnOptions: websocket.ConnOptions{ReadLimit: -1},
		})
		if err != nil {
			return benchEnd{}, err
		}
		return tornagoEnd(c), nil
	case "gorilla":
		u := gorilla.Upgrader{EnableCompression: lib.mode != "off"}
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return benchEnd{}, err
		}
		return gorillaEnd(c), nil
	default:
		c, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: coderMode(lib.mode)})
		if err != nil {
			return benchEnd{}, err
		}
		return coderEnd(c), nil
	}
}

// benchDial is the client side of lib. netDial, when set, makes the TCP
// connection.
func benchDial(ctx context.Context, lib benchLib, url string, netDial func(ctx context.Context, network, addr string) (net.Conn, error)) (benchEnd, error) {
	if netDial == nil {
		netDial = (&net.Dialer{}).DialContext
	}
	switch lib.name {
	case "tornago":
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
			Compression:    tornagoCompression(lib.mode),
			ConnOptions:    websocket.ConnOptions{ReadLimit: -1},
			NetDialContext: netDial,
		})
		if err != nil {
			return benchEnd{}, err
		}
		return tornagoEnd(c), nil
	case "gorilla":
		d := gorilla.Dialer{EnableCompression: lib.mode != "off", NetDialContext: netDial}
		c, _, err := d.DialContext(ctx, url, nil)
		if err != nil {
			return benchEnd{}, err
		}
		return gorillaEnd(c), nil
	case "gws":
		u, err := neturl.Parse(url)
		if err != nil {
			return benchEnd{}, err
		}
		nc, err := netDial(ctx, "tcp", u.Host)
		if err != nil {
			return benchEnd{}, err
		}
		c, _, err := gws.NewClientFromConn(gwsHandler{}, &gws.ClientOption{Addr: url, PermessageDeflate: gwsDeflate(lib.mode)}, nc)
		if err != nil {
			return benchEnd{}, err
		}
		return gwsEnd(c), nil
	default:
		hc := &http.Client{Transport: &http.Transport{DialContext: netDial}}
		c, _, err := coder.Dial(ctx, url, &coder.DialOptions{CompressionMode: coderMode(lib.mode), HTTPClient: hc})
		if err != nil {
			return benchEnd{}, err
		}
		return coderEnd(c), nil
	}
}

// cpuTime returns the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDeflateMessage sends text messages one way, client to server,
// of a 4 KiB and a 64 KiB chat-like JSON payload, cycling through 64 KiB
// of distinct payloads so that context takeover is not flattered by
// repeats. Metrics: cpu-ns/msg (both ends), wire-ratio (bytes the client
// wrote, frame headers included, over payload bytes).
func BenchmarkDeflateMessage(b *testing.B) {
	for _, size := range []int{4096, 65536} {
		payloads := make([][]byte, max(4, 65536/size))
		for i := range payloads {
			payloads[i] = chatJSON(size, uint64(100+i))
		}
		for _, lib := range benchLibs {
			b.Run(fmt.Sprintf("size=%d/%s/%s", size, lib.name, lib.mode), func(b *testing.B) {
				ctx := context.Background()
				ends := make(chan benchEnd, 1)
				upgrade := benchUpgrader(lib)
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if e, err := upgrade(w, r); err == nil {
						ends <- e
					}
				}))
				defer srv.Close()
				wire := newWireCount()
				client, err := benchDial(ctx, lib, "ws"+strings.TrimPrefix(srv.URL, "http"),
					func(ctx context.Context, network, addr string) (net.Conn, error) {
						c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
						if err != nil {
							return nil, err
						}
						return &countedConn{Conn: c, n: wire}, nil
					})
				if err != nil {
					b.Fatal(err)
				}
				defer client.close()
				server := <-ends
				defer server.close()

				n := b.N
				readDone := make(chan error, 1)
				wire.written.Store(0)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				cpu0 := cpuTime()
				go func() {
					for i := range n {
						p, err := server.read(ctx)
						if err == nil && len(p) != len(payloads[i%len(payloads)]) {
							err = fmt.Errorf("message %d: %d bytes, want %d", i, len(p), size)
						}
						if err != nil {
							readDone <- err
							return
						}
					}
					readDone <- nil
				}()
				for i := range n {
					if err := client.write(ctx, payloads[i%len(payloads)]); err != nil {
						b.Fatal(err)
					}
				}
				if err := <-readDone; err != nil {
					b.Fatal(err)
				}
				cpu := cpuTime() - cpu0
				b.StopTimer()
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/msg")
				b.ReportMetric(float64(wire.written.Load())/float64(n*size), "wire-ratio")
			})
		}
	}
}

// idleClientsEnv makes the test binary a client process for
// BenchmarkDeflateIdleConnMemory: "library mode url count".
const idleClientsEnv = "TORNAGO_DEFLATE_IDLE_CLIENTS"

// idleConns is how many connections BenchmarkDeflateIdleConnMemory holds.
const idleConns = 1000

// BenchmarkDeflateIdleConnMemory opens idleConns connections to a server
// of each library and mode. Each connection carries one 4 KiB compressed
// message each way, then idles with its server goroutine parked in a
// read (gws: in ReadLoop), as a chat server's connections mostly are. It
// reports the heap and goroutine stacks the server process keeps per
// connection, after two collections have emptied the sync.Pools, and, as
// shared-B, the heap the server keeps for all its connections once
// idleWarmConns of them have come and gone (gws's pool of compressors;
// the test server's few KB for the others). Run it with -benchtime 1x.
func BenchmarkDeflateIdleConnMemory(b *testing.B) {
	for _, lib := range benchLibs {
		b.Run(lib.name+"/"+lib.mode, func(b *testing.B) {
			for b.Loop() {
				m := measureIdleConns(b, lib)
				b.ReportMetric(m.heap, "heap-B/conn")
				b.ReportMetric(m.stack, "stack-B/conn")
				b.ReportMetric(m.heap+m.stack, "B/conn")
				b.ReportMetric(m.goroutines, "goroutines/conn")
				b.ReportMetric(m.shared, "shared-B")
			}
		})
	}
}

// idleMemory is what measureIdleConns finds: per connection, and shared.
type idleMemory struct {
	heap, stack, goroutines float64
	shared                  float64
}

// heapAfterGC returns the live heap after two collections.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// idleWarmConns is how many connections come and go before
// BenchmarkDeflateIdleConnMemory measures: twice the 32 compressors a gws
// server shares among its connections, which each take another 320 KB on
// first use.
const idleWarmConns = 64

func measureIdleConns(b *testing.B, lib benchLib) idleMemory {
	var m idleMemory
	heap0 := heapAfterGC()
	upgrade := benchUpgrader(lib)

	var wg sync.WaitGroup
	var mu sync.Mutex
	var servers []benchEnd
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		e, err := upgrade(w, r)
		if err != nil {
			return
		}
		mu.Lock()
		servers = append(servers, e)
		mu.Unlock()
		if e.serve != nil {
			e.serve()
			return
		}
		// One message each way, then idle in a read until the client
		// goes.
		ctx := context.Background()
		if p, err := e.read(ctx); err == nil && e.write(ctx, p) == nil {
			_, _ = e.read(ctx)
		}
	}))
	closeServers := func() {
		mu.Lock()
		for _, e := range servers {
			e.close()
		}
		servers = nil
		mu.Unlock()
		wg.Wait()
	}
	defer func() {
		srv.Close()
		closeServers()
	}()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	// A first round of connections that come and go, so that what a
	// server makes once for all connections, but only when they use it,
	// counts as shared rather than per connection.
	startIdleClients(b, lib, url, idleWarmConns)()
	closeServers()
	m.shared = float64(int64(heapAfterGC()) - int64(heap0))

	runtime.GC()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	defer startIdleClients(b, lib, url, idleConns)()

	// Every connection is idle now; the pools' contents go in two
	// collections, so what is left is what connections keep.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	g1 := runtime.NumGoroutine()
	mu.Lock()
	n := len(servers)
	mu.Unlock()
	if n != idleConns {
		b.Fatalf("%d server connections, want %d", n, idleConns)
	}
	m.heap = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	m.stack = float64(int64(after.StackInuse)-int64(before.StackInuse)) / float64(n)
	m.goroutines = float64(g1-g0) / float64(n)
	return m
}

// startIdleClients runs the client process of
// BenchmarkDeflateIdleConnMemory with n connections of lib to url and
// returns once every one has had its echo; stop closes them and waits for
// the process to end.
func startIdleClients(b *testing.B, lib benchLib, url string, n int) (stop func()) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestDeflateIdleClients$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %s %d", idleClientsEnv, lib.name, lib.mode, url, n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop = func() {
		stdin.Close()
		_ = cmd.Wait()
	}
	sc := bufio.NewScanner(stdout)
	ready := false
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "READY") {
			ready = true
			break
		}
	}
	if !ready {
		stop()
		b.Fatal("client process did not get ready")
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return stop
}

// TestDeflateIdleClients is the client process of
// BenchmarkDeflateIdleConnMemory; it does nothing unless idleClientsEnv
// is set. It opens the connections, sends each one 4 KiB message and reads
// the echo, prints READY, and holds them until its stdin closes.
func TestDeflateIdleClients(t *testing.T) {
	spec := os.Getenv(idleClientsEnv)
	if spec == "" {
		t.Skip("client process of BenchmarkDeflateIdleConnMemory only")
	}
	f := strings.Fields(spec)
	if len(f) != 4 {
		t.Fatalf("%s=%q", idleClientsEnv, spec)
	}
	lib := benchLib{name: f[0], mode: f[1]}
	url := f[2]
	n, err := strconv.Atoi(f[3])
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	msg := chatJSON(4096, 1)
	var clients []benchEnd
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	for range n {
		c, err := benchDial(ctx, lib, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		if err := c.write(ctx, msg); err != nil {
			t.Fatal(err)
		}
		if _, err := c.read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("READY")
	_, _ = io.Copy(io.Discard, os.Stdin)
}
