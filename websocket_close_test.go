package tornago_test

// Faults in closing: OnClose exactly once, writes around it, Shutdown,
// each over real TCP against an Application served by Application.Serve.

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/rawpeer"
	"github.com/tornago/tornago/websocket"
)

func TestWSFaultShutdownThousandConnections(t *testing.T) {
	const n = 1000
	p := newProbe()
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	conns := make([]*websocket.Conn, n)
	var dialers sync.WaitGroup
	next := atomic.Int32{}
	dialErrs := make(chan error, n)
	for range 32 {
		dialers.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, _, err := websocket.Dial(context.Background(), a.url("/ws"), nil)
				if err != nil {
					dialErrs <- err
					return
				}
				conns[i] = c
			}
		})
	}
	dialers.Wait()
	close(dialErrs)
	for err := range dialErrs {
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.CloseNow()
		}
	})
	require.Eventually(t, func() bool { return p.opens.Load() == n }, 10*time.Second, 5*time.Millisecond)

	codes := make([]websocket.StatusCode, n)
	var readers sync.WaitGroup
	for i, c := range conns {
		readers.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, _, err := c.ReadMessage(ctx)
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				codes[i] = ce.Code
			}
		})
	}
	start := time.Now()
	a.shutdown(t)
	t.Logf("Shutdown with %d connections took %v", n, time.Since(start))
	assert.Equal(t, int32(n), p.closes.Load(), "every OnClose ran before Shutdown returned")
	readers.Wait()
	wrong := 0
	for _, code := range codes {
		if code != websocket.StatusGoingAway {
			wrong++
		}
	}
	assert.Zero(t, wrong, "clients that did not see 1001")
	_, _, err := websocket.Dial(context.Background(), a.url("/ws"), nil)
	assert.Error(t, err, "the listener is closed")
}

func TestWSFaultOnCloseExactlyOnce(t *testing.T) {
	t.Parallel()
	type env struct {
		a *wsApp
		p *probe
	}
	for _, tc := range []struct {
		name     string
		settings tornago.Settings
		closes   int32
		// run ends the connection; it returns the close code the client
		// saw (0: none) where that is checked.
		run  func(t *testing.T, e env) websocket.StatusCode
		want websocket.StatusCode
		peer *closeInfo // CloseCode and CloseReason in OnClose, where checked
	}{
		{name: "peer close", closes: 1, want: 4001, peer: &closeInfo{4001, "bye"},
			run: func(t *testing.T, e env) websocket.StatusCode {
				c := dial(t, e.a.url("/ws"), nil)
				err := c.Close(4001, "bye")
				require.NoError(t, err)
				return 4001
			}},
		{name: "peer close without code", closes: 1, peer: &closeInfo{},
			run: func(t *testing.T, e env) websocket.StatusCode {
				c := dial(t, e.a.url("/ws"), nil)
				require.NoError(t, c.Close(0, ""))
				return 0
			}},
		{name: "our close", closes: 1, want: 4002,
			run: func(t *testing.T, e env) websocket.StatusCode {
				c := dial(t, e.a.url("/ws"), nil)
				sendText(t, c, "close")
				code, reason, err := readUntilClose(c, 5*time.Second)
				require.NoError(t, err)
				assert.Equal(t, "server bye", reason)
				return code
			}},
		{name: "ping timeout", closes: 1, peer: &closeInfo{}, settings: tornago.Settings{WebSocketPingInterval: 50 * time.Millisecond}, want: 1000,
			run: func(t *testing.T, e env) websocket.StatusCode {
				ws := rawpeer.Dial(t, e.a.Addr, "/ws", nil)
				e.p.waitCloses(t, 1, 3*time.Second)
				code, _, _ := ws.ReadClose()
				return websocket.StatusCode(code)
			}},
		{name: "TCP drop", closes: 1, peer: &closeInfo{},
			run: func(t *testing.T, e env) websocket.StatusCode {
				c := dial(t, e.a.url("/ws"), nil)
				require.NoError(t, c.CloseNow())
				return 0
			}},
		{name: "TCP drop mid-frame", closes: 1, peer: &closeInfo{},
			run: func(t *testing.T, e env) websocket.StatusCode {
				ws := rawpeer.Dial(t, e.a.Addr, "/ws", nil)
				ws.Send(rawpeer.Frame{B0: rawpeer.FIN | byte(rawpeer.OpText), Declared: 4 << 10, Payload: []byte("x")}) // 1 byte sent
				require.NoError(t, ws.Conn.Close())
				return 0
			}},
		{name: "protocol error", closes: 1, peer: &closeInfo{}, want: websocket.StatusProtocolError,
			run: func(t *testing.T, e env) websocket.StatusCode {
				ws := rawpeer.Dial(t, e.a.Addr, "/ws", nil)
				ws.Send(rawpeer.Frame{B0: rawpeer.FIN | byte(rawpeer.OpText), Payload: []byte("unmasked"), BadMask: true})
				code, _, _ := ws.ReadClose()
				_, _, err := ws.ReadFrame()
				assert.Error(t, err, "TCP closed after the close frame")
				return websocket.StatusCode(code)
			}},
		{name: "invalid UTF-8", closes: 1, want: websocket.StatusInvalidFramePayloadData,
			run: func(t *testing.T, e env) websocket.StatusCode {
				ws := rawpeer.Dial(t, e.a.Addr, "/ws", nil)
				ws.Send(rawpeer.Frame{B0: rawpeer.FIN | byte(rawpeer.OpText), Payload: []byte{0xc3, 0x28}})
				code, _, _ := ws.ReadClose()
				return websocket.StatusCode(code)
			}},
		{name: "OnMessage error", closes: 1, want: websocket.StatusInternalError,
			run: func(t *testing.T, e env) websocket.StatusCode {
				c := dial(t, e.a.url("/ws"), nil)
				sendText(t, c, "fail")
				sendText(t, c, "dropped after the failure")
				code, _, err := readUntilClose(c, 5*time.Second)
				require.NoError(t, err)
				return code
			}},
		{name: "OnMessage panic", closes: 1, want: websocket.StatusInternalError,
			run: func(t *testing.T, e env) websocket.StatusCode {
				c := dial(t, e.a.url("/ws"), nil)
				sendText(t, c, "panic")
				code, _, err := readUntilClose(c, 5*time.Second)
				require.NoError(t, err)
				return code
			}},
		{name: "message too big", closes: 1, settings: tornago.Settings{WebSocketMaxMessageSize: 10}, want: websocket.StatusMessageTooBig,
			run: func(t *testing.T, e env) websocket.StatusCode {
				c := dial(t, e.a.url("/ws"), nil)
				sendText(t, c, "more than ten bytes")
				code, _, err := readUntilClose(c, 5*time.Second)
				require.NoError(t, err)
				return code
			}},
		{name: "shutdown", closes: 1, want: websocket.StatusGoingAway,
			run: func(t *testing.T, e env) websocket.StatusCode {
				c := dial(t, e.a.url("/ws"), nil)
				codes := make(chan websocket.StatusCode, 1)
				go func() {
					code, _, _ := readUntilClose(c, 5*time.Second)
					codes <- code
				}()
				e.a.shutdown(t)
				return <-codes
			}},
		{name: "Open refused", closes: 1, // OnClose undoes what Open did
			run: func(t *testing.T, e env) websocket.StatusCode {
				_, resp, err := websocket.Dial(context.Background(), e.a.url("/ws?refuse=1"), nil)
				require.Error(t, err)
				assert.Equal(t, http.StatusForbidden, resp.StatusCode)
				return 0
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newProbe()
			p.open = func(h *faultSocket, _ ...string) error {
				if v, _ := h.GetArgument("refuse", tornago.Default("")); v != "" {
					return tornago.HTTPError{Code: http.StatusForbidden}
				}
				return nil
			}
			a := serveWS(t, tc.settings, p.route("/ws"))
			code := tc.run(t, env{a, p})
			if tc.want != 0 {
				assert.Equal(t, tc.want, code, "close code seen by the client")
			}
			if tc.closes > 0 {
				p.waitCloses(t, tc.closes, 5*time.Second)
			}
			a.shutdown(t) // waits for every OnClose still owed
			assert.Equal(t, tc.closes, p.closes.Load(), "OnClose calls")
			if tc.peer != nil {
				assert.Equal(t, *tc.peer, <-p.closeInfo, "CloseCode and CloseReason in OnClose")
			}
		})
	}
}

func TestWSFaultWritesInOnCloseAndPanickingOnClose(t *testing.T) {
	t.Parallel()
	p := newProbe()
	writes := make(chan error, 2)
	p.onClose = func(h *faultSocket) {
		writes <- h.WriteText("after the end")
		writes <- h.Flush(context.Background())
		panic("OnClose exploded")
	}
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	for range 2 {
		c := dial(t, a.url("/ws"), nil)
		sendText(t, c, "hi")
		assert.Equal(t, "hi", readText(t, c))
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
		assert.ErrorIs(t, <-writes, tornago.ErrClosed, "WriteText in OnClose")
		assert.NoError(t, <-writes, "Flush in OnClose: everything queued was sent")
	}
	a.shutdown(t)
	assert.Equal(t, int32(2), p.closes.Load(), "the server survived a panic in OnClose")
}

// TestWSFaultShutdownFlushesQueueFirst: what was queued before Shutdown
// reaches the client before the 1001.
func TestWSFaultShutdownFlushesQueueFirst(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.opened = make(chan *faultSocket, 1)
	a := serveWS(t, tornago.Settings{WebSocketSendQueueSize: 64 << 20}, p.route("/ws"))
	c := dial(t, a.url("/ws"), nil)
	h := p.nextOpened(t)
	const n = 500
	for i := range n {
		require.NoError(t, h.WriteMessage(bytes.Repeat([]byte{byte(i)}, 8<<10), true))
	}
	got := make(chan int, 1)
	go func() {
		count := 0
		for {
			_, b, err := c.ReadMessage(context.Background())
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) && ce.Code == websocket.StatusGoingAway {
					got <- count
				} else {
					got <- -1
				}
				return
			}
			if len(b) == 8<<10 && b[0] == byte(count) {
				count++
			}
		}
	}()
	a.shutdown(t)
	assert.Equal(t, n, <-got, "messages intact and in order before the 1001")
	assert.Equal(t, int32(1), p.closes.Load())
}
