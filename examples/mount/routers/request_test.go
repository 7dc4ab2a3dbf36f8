package routers_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

type tenantKey struct{}

// requestEcho answers every message with what Request() says then: an
// idle connection keeps its request packed (request_compact.go), so this
// is the request rebuilt after the handshake. A goroutine started in
// Open reads the request meanwhile, as handlers that watch
// Request().Context() do.
type requestEcho struct {
	tornago.WebSocketHandler
	watcher sync.WaitGroup // ends with the connection's context (goleak checks)
}

func (h *requestEcho) Open(...string) error {
	h.watcher.Add(1)
	go func() {
		defer h.watcher.Done()
		r := h.Request()
		for i := 0; i < 1000 && r.Header.Get("X-Trace") != ""; i++ {
			r = h.Request()
		}
		<-r.Context().Done()
	}()
	return nil
}

func (h *requestEcho) OnMessage(tornago.Message) error {
	r := h.Request()
	tenant, _ := r.Context().Value(tenantKey{}).(string)
	q, _ := h.GetArgument("q")
	sid, _ := h.GetCookie("sid")
	return h.WriteText(strings.Join([]string{
		r.Method, r.RequestURI, r.URL.Path, r.URL.RawQuery, q,
		r.PathValue("id"), r.Pattern, tenant, sid,
		strings.Join(r.Header.Values("X-Trace"), ","), r.Header.Get("User-Agent"),
		h.RemoteIP(), r.Host,
	}, " | "))
}

// TestRequestAfterHandshake: what a handler reads from Request() after
// Open (headers, URL, query, cookies, http.ServeMux's path values and
// pattern, a middleware's context value, a prefix stripped by
// http.StripPrefix) is what the request had, with gorilla/websocket as
// the client.
func TestRequestAfterHandshake(t *testing.T) {
	app, err := tornago.NewApplication(nil, tornago.Settings{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("GET /users/{id}/ws", app.HandlerFor(func() tornago.Handler { return &requestEcho{} }))
	tenant := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tenantKey{}, "acme")))
		})
	}
	root := http.NewServeMux()
	root.Handle("/api/", http.StripPrefix("/api", tenant(mux)))
	root.Handle("/", tenant(mux))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: root}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, srv.Shutdown(ctx))
		assert.NoError(t, app.Shutdown(ctx))
		assert.ErrorIs(t, <-served, http.ErrServerClosed)
	}()

	host := ln.Addr().String()
	for _, tc := range []struct{ path, want string }{
		{"/users/7/ws?q=a&q=b", "GET | /users/7/ws?q=a&q=b | /users/7/ws | q=a&q=b | b | 7 | GET /users/{id}/ws | acme | s1 | x,y | probe/1 | 127.0.0.1 | " + host},
		{"/users/caf%C3%A9/ws", "GET | /users/caf%C3%A9/ws | /users/café/ws |  |  | café | GET /users/{id}/ws | acme | s1 | x,y | probe/1 | 127.0.0.1 | " + host},
		{"/api/users/9/ws?q=z", "GET | /api/users/9/ws?q=z | /users/9/ws | q=z | z | 9 | GET /users/{id}/ws | acme | s1 | x,y | probe/1 | 127.0.0.1 | " + host},
	} {
		t.Run(tc.path, func(t *testing.T) {
			dialer := &gorilla.Dialer{HandshakeTimeout: 5 * time.Second}
			hdr := http.Header{"X-Trace": {"x", "y"}, "User-Agent": {"probe/1"}, "Cookie": {"sid=s1"}}
			c, resp, err := dialer.Dial("ws://"+host+tc.path, hdr)
			require.NoError(t, err)
			defer c.Close()
			require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
			require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
			for range 2 { // the second answer comes from the same rebuilt request
				require.NoError(t, c.WriteMessage(gorilla.TextMessage, []byte("?")))
				_, msg, err := c.ReadMessage()
				require.NoError(t, err)
				assert.Equal(t, tc.want, string(msg))
			}
			require.NoError(t, c.WriteControl(gorilla.CloseMessage, gorilla.FormatCloseMessage(gorilla.CloseNormalClosure, ""), time.Now().Add(time.Second)))
			_, _, err = c.ReadMessage()
			assert.True(t, gorilla.IsCloseError(err, gorilla.CloseNormalClosure), "%v", err)
		})
	}
}
