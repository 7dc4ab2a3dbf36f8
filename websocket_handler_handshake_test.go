package tornago_test

// The opening handshake's edges: the Sec-WebSocket-Origin header of
// protocol versions 7 and 8, and a handshake that fails after Open.

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/rawpeer"
	"github.com/tornago/tornago/websocket"
)

// TestWSOriginFromSecWebSocketOrigin: without an Origin header, the
// Sec-WebSocket-Origin header of protocol versions 7 and 8 is the origin
// checked, as in Tornado: a cross-origin one is refused with 403 before
// the version is looked at, and it is what CheckOrigin receives.
func TestWSOriginFromSecWebSocketOrigin(t *testing.T) {
	t.Parallel()
	p := newProbe()
	seen := make(chan string, 10)
	trusting := newProbe()
	trusting.origin = func(origin string) bool {
		seen <- origin
		return origin == "https://trusted.example"
	}
	a := serveWS(t, tornago.Settings{}, p.route("/ws"), trusting.route("/trusting"))
	request := func(path, version, origin string) (*http.Response, string) {
		return rawpeer.Request(t, a.Addr, "GET "+path+" HTTP/1.1\nHost: "+a.Addr+"\nUpgrade: websocket\nConnection: Upgrade\n"+
			"Sec-WebSocket-Version: "+version+"\nSec-WebSocket-Key: "+rawpeer.NewKey()+"\nSec-WebSocket-Origin: "+origin+"\n\n")
	}
	for _, version := range []string{"8", "13"} {
		resp, body := request("/ws", version, "http://evil.example")
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "version %s", version)
		assert.Equal(t, "Cross origin websockets not allowed", body)
	}
	resp, _ := request("/ws", "8", "http://"+a.Addr)
	assert.Equal(t, http.StatusUpgradeRequired, resp.StatusCode, "same origin: refused only for its version")
	assert.Equal(t, "13", resp.Header.Get("Sec-WebSocket-Version"))

	// CheckOrigin may be asked more than once per request; every time, it
	// is given the Sec-WebSocket-Origin value.
	origins := func() []string {
		var out []string
		for len(seen) > 0 {
			out = append(out, <-seen)
		}
		return out
	}
	resp, _ = request("/trusting", "13", "https://trusted.example")
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	got := origins()
	require.NotEmpty(t, got)
	for _, o := range got {
		assert.Equal(t, "https://trusted.example", o)
	}
	resp, _ = request("/trusting", "13", "http://"+a.Addr)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, []string{"http://" + a.Addr}, origins())
	assert.Zero(t, p.opens.Load())
}

// failingHijack wraps a ResponseWriter so that taking over the
// connection fails (hijackErr) or the connection taken over refuses
// every write (writeErr), as when the client is gone.
type failingHijack struct {
	http.ResponseWriter
	hijackErr, writeErr error
}

func (w failingHijack) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijackErr != nil {
		return nil, nil, w.hijackErr
	}
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return failingWrites{Conn: nc, err: w.writeErr}, brw, nil
}

// failingWrites is a net.Conn whose writes fail.
type failingWrites struct {
	net.Conn
	err error
}

func (c failingWrites) Write([]byte) (int, error) { return 0, c.err }

// TestWSHandshakeFailingAfterOpenRunsOnClose: when the handshake fails
// after Open succeeded (taking over the connection fails, or writing the
// 101 does), the connection ends like any other: OnClose runs once, a
// write from it fails with ErrClosed, the failure is logged, and the
// application forgets the connection, so Shutdown does not wait for it.
func TestWSHandshakeFailingAfterOpenRunsOnClose(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		w    func(http.ResponseWriter) http.ResponseWriter
	}{
		{"hijack fails", func(w http.ResponseWriter) http.ResponseWriter {
			return failingHijack{ResponseWriter: w, hijackErr: errors.New("no hijack for you")}
		}},
		{"101 write fails", func(w http.ResponseWriter) http.ResponseWriter {
			return failingHijack{ResponseWriter: w, writeErr: errors.New("peer gone")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs logBuffer
			p := newProbe()
			writeErr := make(chan error, 1)
			p.onClose = func(h *faultSocket) { writeErr <- h.WriteText("too late") }
			app, err := tornago.NewApplication([]tornago.Route{p.route("/ws")},
				tornago.Settings{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			require.NoError(t, err)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				app.ServeHTTP(tc.w(w), r)
			}))
			defer srv.Close()

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, "ws://"+srv.Listener.Addr().String()+"/ws", nil)
			if c != nil {
				c.CloseNow()
			}
			require.Error(t, err, "the handshake cannot complete")
			select {
			case err := <-writeErr:
				assert.ErrorIs(t, err, tornago.ErrClosed)
			case <-ctx.Done():
				t.Fatal("OnClose did not run")
			}
			assert.Equal(t, int32(1), p.opens.Load())
			assert.Equal(t, int32(1), p.closes.Load())
			assert.Contains(t, logs.String(), "WebSocket handshake failed after Open")
			require.NoError(t, app.Shutdown(ctx), "the failed connection is not waited for")
			assert.Equal(t, int32(1), p.closes.Load(), "OnClose runs once")
		})
	}
}
