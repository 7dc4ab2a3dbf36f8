package tornago_test

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/websocket"
)

// benchEchoSocket echoes every message with WriteMessage, the way
// examples/echo does.
type benchEchoSocket struct{ tornago.WebSocketHandler }

func (h *benchEchoSocket) OnMessage(m tornago.Message) error {
	return h.WriteMessage(m.Data, m.Binary)
}

// BenchmarkHandlerEchoRoundTrip sends a binary message from a core client
// to a WebSocketHandler that echoes it, over loopback TCP, and waits for
// the echo: one op is one round trip through the handler's read loop,
// OnMessage dispatch and WriteMessage. The client side is the same as the
// core's BenchmarkEchoRoundTrip, so the difference between the two is what
// the handler layer costs. cpu-ns/op is the CPU time of the whole process
// (client and server, user and system) per round trip: with a fixed
// client, what changes in it is the server's cost per message, the
// measure of echo throughput per server CPU-second.
func BenchmarkHandlerEchoRoundTrip(b *testing.B) {
	app, err := tornago.NewApplication([]tornago.Route{{
		Pattern: "/ws",
		Handler: func() tornago.Handler { return &benchEchoSocket{} },
	}}, tornago.Settings{Logger: slog.New(slog.DiscardHandler), WebSocketMaxMessageSize: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- app.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := app.Shutdown(ctx); err != nil {
			b.Error(err)
		}
		<-served
	}()
	url := "ws://" + ln.Addr().String() + "/ws"
	for _, n := range []int{64, 4096, 65536} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			ctx := context.Background()
			c, _, err := websocket.Dial(ctx, url, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(websocket.StatusNormalClosure, "")
			data := make([]byte, n)
			for i := range data {
				data[i] = byte(i)
			}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				if err := c.WriteMessage(ctx, websocket.BinaryMessage, data); err != nil {
					b.Fatal(err)
				}
				if _, msg, err := c.ReadMessage(ctx); err != nil || len(msg) != n {
					b.Fatalf("ReadMessage: %v, %d bytes", err, len(msg))
				}
			}
			if cpu := processCPU() - cpu; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// benchOpenSocket hands each opened handler to the benchmark.
type benchOpenSocket struct {
	tornago.WebSocketHandler
	opened chan<- *benchOpenSocket
}

func (h *benchOpenSocket) Open(args ...string) error {
	h.opened <- h
	return nil
}

// BenchmarkHandlerBroadcast broadcasts a 64-byte message to n handler
// connections over loopback TCP and waits until every client has read it:
// one op is one Broadcast and its n deliveries. It shows what Broadcast
// costs the caller's goroutine and the process.
func BenchmarkHandlerBroadcast(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			opened := make(chan *benchOpenSocket, n)
			app, err := tornago.NewApplication([]tornago.Route{{
				Pattern: "/ws",
				Handler: func() tornago.Handler { return &benchOpenSocket{opened: opened} },
			}}, tornago.Settings{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- app.Serve(ln) }()
			url := "ws://" + ln.Addr().String() + "/ws"
			var received atomic.Int64
			delivered := make(chan struct{}, 1)
			var readers sync.WaitGroup
			handlers := make([]*benchOpenSocket, n)
			ctx := context.Background()
			for i := range n {
				c, _, err := websocket.Dial(ctx, url, nil)
				if err != nil {
					b.Fatal(err)
				}
				handlers[i] = <-opened
				readers.Go(func() {
					for {
						if _, _, err := c.ReadMessage(ctx); err != nil {
							return
						}
						if received.Add(1)%int64(n) == 0 {
							delivered <- struct{}{}
						}
					}
				})
			}
			msg := make([]byte, 64)
			b.ReportAllocs()
			cpu := processCPU()
			var call time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := tornago.Broadcast(handlers, msg, true); err != nil {
					b.Fatal(err)
				}
				call += time.Since(start)
				<-delivered
			}
			if cpu := processCPU() - cpu; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
			b.ReportMetric(float64(call.Nanoseconds())/float64(b.N), "call-ns/op")
			b.StopTimer()
			shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := app.Shutdown(shutdown); err != nil {
				b.Error(err)
			}
			<-served
			readers.Wait()
		})
	}
}
