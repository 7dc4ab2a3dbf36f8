package tornago_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/websocket"
)

// stressSocket echoes, and counts opens and closes per connection.
type stressSocket struct {
	tornago.WebSocketHandler
	opens, closes *atomic.Int32
	closedTwice   *atomic.Int32
	closed        atomic.Bool
}

func (h *stressSocket) Open(args ...string) error {
	h.opens.Add(1)
	if reuse, _ := h.GetArgument("reuse", tornago.Default("")); reuse == "1" {
		h.SetReuseMessageBuffers(true)
	}
	return nil
}

func (h *stressSocket) OnMessage(m tornago.Message) error {
	if m.Text() == "close-me" {
		return h.Close(4001, "asked")
	}
	return h.WriteMessage(m.Data, m.Binary)
}

func (h *stressSocket) OnClose() {
	if h.closed.Swap(true) {
		h.closedTwice.Add(1)
	}
	h.closes.Add(1)
}

// Connections that park, wake, burst, go quiet and end every way at once:
// every one is served in order and gets exactly one OnClose.
func TestWebSocketHandlerParkingUnderChurn(t *testing.T) {
	var opens, closes, twice atomic.Int32
	app, err := tornago.NewApplication([]tornago.Route{{
		Pattern: `/ws`,
		Handler: func() tornago.Handler { return &stressSocket{opens: &opens, closes: &closes, closedTwice: &twice} },
	}}, tornago.Settings{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	srv := httptest.NewServer(app)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	defer srv.Close()

	const clients = 40
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			u := url
			if i%2 == 0 {
				u += "?reuse=1"
			}
			c, _, err := websocket.Dial(ctx, u, nil)
			if err != nil {
				errs <- err
				return
			}
			defer c.CloseNow()
			for round := range 6 {
				// A burst, then a pause that may or may not park the reader.
				n := 1 + rng.IntN(5)
				for k := range n {
					msg := fmt.Sprintf("%d-%d-%d-%s", i, round, k, strings.Repeat("x", rng.IntN(6000)))
					if err := c.WriteMessage(ctx, websocket.TextMessage, []byte(msg)); err != nil {
						errs <- err
						return
					}
				}
				for k := range n {
					_, got, err := c.ReadMessage(ctx)
					if err != nil {
						errs <- err
						return
					}
					if want := fmt.Sprintf("%d-%d-%d-", i, round, k); !strings.HasPrefix(string(got), want) {
						errs <- fmt.Errorf("client %d: got %.20q, want prefix %q", i, got, want)
						return
					}
				}
				pause := time.Duration(rng.IntN(40)) * time.Millisecond
				if round == 2 && i%3 == 0 {
					// Long enough for the keepalive goroutine to park a
					// reader that stayed in its read after the burst.
					pause = 1300 * time.Millisecond
				}
				time.Sleep(pause)
			}
			switch i % 4 {
			case 0: // the client closes
				errs <- c.Close(websocket.StatusNormalClosure, "")
			case 1: // the client drops TCP
				errs <- c.CloseNow()
			case 2: // the server closes, asked by a message
				if err := c.WriteMessage(ctx, websocket.TextMessage, []byte("close-me")); err != nil {
					errs <- err
					return
				}
				_, _, err := c.ReadMessage(ctx)
				var ce *websocket.CloseError
				if !assert.ErrorAs(t, err, &ce) || ce.Code != 4001 {
					errs <- fmt.Errorf("client %d: want close 4001, got %v", i, err)
					return
				}
				errs <- nil
			default: // left open for Shutdown
				errs <- nil
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, app.Shutdown(ctx))
	assert.Equal(t, int32(clients), opens.Load())
	assert.Equal(t, int32(clients), closes.Load(), "OnClose once per connection")
	assert.Zero(t, twice.Load(), "OnClose ran twice for a connection")
}
