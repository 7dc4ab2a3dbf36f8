package websocket

//lint:file-ignore SA1019 x/net's http2.Transport is deprecated in favour of net/http's, which cannot send an RFC 8441 extended CONNECT as of Go 1.26 (it rejects :protocol)

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// benchSockets is how many WebSockets BenchmarkConnect1000 opens from one
// client.
const benchSockets = 1000

// echoSessionEvents echoes every message through its session, as a
// tornago handler or examples/echo does.
type echoSessionEvents struct{ s *Session }

func (e *echoSessionEvents) OnMessage(m Message) error {
	typ := TextMessage
	if m.Binary {
		typ = BinaryMessage
	}
	return e.s.Send(typ, m.Data)
}
func (e *echoSessionEvents) OnPing([]byte) {}
func (e *echoSessionEvents) OnPong([]byte) {}
func (e *echoSessionEvents) OnClose()      {}

// BenchmarkConnect1000 opens 1,000 WebSockets from one client to a server
// that runs each on a Session (the runtime tornago's handlers use), in
// three ways: HTTP/1.1 upgrades on plain TCP (ws://, what a proxy speaks
// to the application), HTTP/1.1 upgrades over TLS (wss://, one TCP and TLS
// handshake per socket), and RFC 8441 streams of HTTP/2 connections over
// TLS. The server runs in a child process (this test binary, as
// TestConnectBenchServer), so that its memory is measured alone. One op
// opens all the sockets one after another (each echoes one message before
// the next is dialled), waits until quiet readers could park, measures,
// and closes them. It reports the connect latency per socket (mean, p50,
// p99), the server's memory per open socket (heap and stacks after a GC)
// and goroutines per socket, the client's memory per socket, and how many
// TCP connections carried the sockets.
//
//	go test -run '^$' -bench BenchmarkConnect1000 -benchtime 1x -count 5 ./websocket/
func BenchmarkConnect1000(b *testing.B) {
	for _, mode := range []string{"HTTP1", "HTTP1-TLS", "HTTP2"} {
		b.Run(mode, func(b *testing.B) {
			srv := startConnectBenchServer(b, mode)
			for range b.N {
				benchConnect(b, srv, mode)
			}
		})
	}
}

// connectBenchEnv names the mode of the server child process.
const connectBenchEnv = "TORNAGO_CONNECT_BENCH_SERVER"

// TestConnectBenchServer is BenchmarkConnect1000's server when run as its
// child process (with connectBenchEnv set); otherwise it skips. It serves
// /ws with a Session per socket and /mem with the process's memory and
// goroutines and the TCP peers the sockets came from, prints "listening
// on URL" and serves until its standard input closes.
func TestConnectBenchServer(t *testing.T) {
	mode := os.Getenv(connectBenchEnv)
	if mode == "" {
		t.Skip("the server of BenchmarkConnect1000, run as its child process")
	}
	g := &Group{}
	var mu sync.Mutex
	peers := map[string]bool{}
	var handlers sync.WaitGroup
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		peers[r.RemoteAddr] = true
		mu.Unlock()
		ev := &echoSessionEvents{}
		s, err := g.NewSession(ev, SessionOptions{})
		if err != nil {
			c.CloseNow()
			return
		}
		ev.s = s
		s.Start(c)
		if isHTTP2(r) {
			<-c.Done() // the stream ends with the handler
		}
	})
	mux.HandleFunc("/mem", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n := len(peers)
		mu.Unlock()
		fmt.Fprintf(w, "%d %d %d", benchMemory(), runtime.NumGoroutine(), n)
	})
	srv := httptest.NewUnstartedServer(mux)
	switch mode {
	case "HTTP1":
		srv.Start()
	case "HTTP2":
		srv.EnableHTTP2 = true
		fallthrough
	default:
		srv.StartTLS()
	}
	fmt.Printf("listening on %s\n", srv.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = g.Shutdown(ctx)
	srv.Close()
	handlers.Wait()
}

// connectBenchServer is the child process serving one mode.
type connectBenchServer struct {
	url  string // http:// or https://
	stop func()
}

func startConnectBenchServer(b *testing.B, mode string) *connectBenchServer {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestConnectBenchServer$")
	cmd.Env = append(os.Environ(), connectBenchEnv+"="+mode)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop := func() {
		stdin.Close()
		_ = cmd.Wait()
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			b.Cleanup(stop)
			return &connectBenchServer{url: u, stop: stop}
		}
	}
	stop()
	b.Fatal("the server child process did not start")
	return nil
}

// mem asks the server for its memory, goroutines and socket peers.
func (s *connectBenchServer) mem(b *testing.B) (mem int64, goroutines, peers int) {
	b.Helper()
	c := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // the child's test certificate
		DisableKeepAlives: true,
	}}
	resp, err := c.Get(s.url + "/mem")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := fmt.Fscan(resp.Body, &mem, &goroutines, &peers); err != nil {
		b.Fatal(err)
	}
	return mem, goroutines, peers
}

func benchConnect(b *testing.B, srv *connectBenchServer, mode string) {
	b.StopTimer()
	opts := &DialOptions{}
	url := "ws" + strings.TrimPrefix(srv.url, "http") + "/ws"
	tlsConfig := &tls.Config{InsecureSkipVerify: true} // the child's test certificate
	switch mode {
	case "HTTP1-TLS":
		opts.TLSConfig = tlsConfig
	case "HTTP2":
		t := &http2.Transport{TLSClientConfig: tlsConfig}
		defer t.CloseIdleConnections()
		opts.HTTP2Transport = t
	}
	serverBefore, goroutinesBefore, peersBefore := srv.mem(b)
	clientBefore := benchMemory()
	ctx := context.Background()
	conns := make([]*Conn, 0, benchSockets)
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	latencies := make([]time.Duration, 0, benchSockets)
	msg := []byte("hello")
	b.StartTimer()
	for range benchSockets {
		start := time.Now()
		c, _, err := Dial(ctx, url, opts)
		if err != nil {
			b.Fatal(err)
		}
		latencies = append(latencies, time.Since(start))
		conns = append(conns, c)
		if err := c.WriteMessage(ctx, TextMessage, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.ReadMessage(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// Let readers that went quiet park, as idle sockets do.
	time.Sleep(parkQuietAfter + 500*time.Millisecond)
	clientAfter := benchMemory()
	serverAfter, goroutinesAfter, peersAfter := srv.mem(b)

	slices.Sort(latencies)
	var sum time.Duration
	for _, d := range latencies {
		sum += d
	}
	b.ReportMetric(float64(sum.Microseconds())/benchSockets, "µs/connect")
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "µs-p50/connect")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "µs-p99/connect")
	b.ReportMetric(float64(serverAfter-serverBefore)/benchSockets, "server-B/socket")
	b.ReportMetric(float64(goroutinesAfter-goroutinesBefore)/benchSockets, "server-goroutines/socket")
	b.ReportMetric(float64(clientAfter-clientBefore)/benchSockets, "client-B/socket")
	b.ReportMetric(float64(peersAfter-peersBefore), "tcp-conns")
	for _, c := range conns {
		_ = c.Close(StatusNormalClosure, "")
	}
	conns = conns[:0]
}

// benchMemory is the heap and the goroutine stacks in use after a GC.
func benchMemory() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}
