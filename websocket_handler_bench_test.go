package tornago_test

import (
	"context"
	"log/slog"
	"net"
	"strconv"
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
