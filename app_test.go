package tornago_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/routing"
)

func TestNewApplicationErrors(t *testing.T) {
	t.Parallel()
	h := func() tornago.Handler { return &getOnly{} }
	tests := []struct {
		name   string
		routes []tornago.Route
		is     error
	}{
		{"nil handler", []tornago.Route{{Pattern: `/`}}, nil},
		{"bad pattern", []tornago.Route{{Pattern: `/(`, Handler: h}}, routing.ErrBadPattern},
		{"mixed groups", []tornago.Route{{Pattern: `/(a)/(?P<b>b)`, Handler: h}}, routing.ErrMixedGroups},
		{"duplicate name", []tornago.Route{{Pattern: `/a`, Name: "x", Handler: h}, {Pattern: `/b`, Name: "x", Handler: h}},
			routing.ErrDuplicateName},
	}
	for _, tt := range tests {
		_, err := tornago.NewApplication(tt.routes, tornago.Settings{})
		require.Error(t, err, tt.name)
		if tt.is != nil {
			assert.ErrorIs(t, err, tt.is, tt.name)
		}
	}
}

func TestSettingsDefaults(t *testing.T) {
	t.Parallel()
	s := tornago.Settings{WebSocketPingInterval: 3 * time.Second}.WithDefaults()
	assert.Equal(t, "/static/", s.StaticURLPrefix)
	assert.Equal(t, int64(100<<20), s.MaxBodySize)
	assert.Equal(t, 3*time.Second, s.WebSocketPingTimeout)
	assert.Equal(t, int64(10<<20), s.WebSocketMaxMessageSize)
	assert.Equal(t, 20<<20, s.WebSocketSendQueueSize, "twice the largest message")
	assert.Equal(t, 16<<20, tornago.Settings{WebSocketMaxMessageSize: 64 << 10}.WithDefaults().WebSocketSendQueueSize)
	assert.Equal(t, 30*time.Second, s.WebSocketSendTimeout)
	assert.Equal(t, 64<<10, s.WebSocketInboxSize)
	assert.Equal(t, 5*time.Second, s.WebSocketCloseTimeout)
	assert.NotNil(t, s.Logger)
	assert.Zero(t, tornago.Settings{}.WithDefaults().WebSocketPingTimeout, "no pings by default")

	app, err := tornago.NewApplication(nil, tornago.Settings{StaticURLPrefix: "/assets/"})
	require.NoError(t, err)
	assert.Equal(t, "/assets/", app.Settings().StaticURLPrefix)
	assert.Equal(t, int64(100<<20), app.Settings().MaxBodySize)
}

func TestNotFoundAndDefaultHandler(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/exists`, func() tornago.Handler { return &getOnly{} }), tornago.Settings{})
	for _, path := range []string{"/", "/nope", "/exists/", "/existsx"} {
		resp := ta.get(path)
		assert.Equal(t, 404, resp.StatusCode, path)
		assert.Equal(t, errorPage("404", "Not Found"), resp.Body, path)
	}
	assert.Equal(t, 404, ta.do("POST", "/nope", "").StatusCode)
	assert.Contains(t, ta.logs.String(), "404 GET /nope (127.0.0.1)")

	custom := newTestApp(t, route(`/exists`, func() tornago.Handler { return &getOnly{} }), tornago.Settings{
		DefaultHandler: fn(func(h *funcHandler, _ ...string) error {
			h.SetStatus(404)
			return h.Write("custom 404 for " + h.Request().URL.Path)
		}),
	})
	resp := custom.get("/missing")
	assert.Equal(t, 404, resp.StatusCode)
	assert.Equal(t, "custom 404 for /missing", resp.Body)
}

func TestHostRoutes(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, []tornago.Route{
		{Pattern: `/`, Host: `api\.example\.com`, Handler: fn(func(h *funcHandler, _ ...string) error { return h.Write("api") })},
		{Pattern: `/`, Handler: fn(func(h *funcHandler, _ ...string) error { return h.Write("www") })},
	}, tornago.Settings{})
	req, err := http.NewRequest("GET", ta.srv.URL+"/", nil)
	require.NoError(t, err)
	req.Host = "api.example.com:8080"
	resp, err := ta.client.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "api", string(b))
	assert.Equal(t, "www", ta.get("/").Body)
}

func TestReverseURL(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, []tornago.Route{
		{Pattern: `/user/([^/]+)/post/(\d+)`, Name: "post", Handler: fn(func(h *funcHandler, _ ...string) error {
			u, err := h.ReverseURL("post", "a b/c", 7)
			if err != nil {
				return err
			}
			return h.Write(u)
		})},
	}, tornago.Settings{})
	assert.Equal(t, "/user/a%20b/c/post/7", ta.get("/user/x/post/1").Body) // Tornado: quote(arg), "/" kept
	_, err := ta.app.ReverseURL("nope")
	assert.ErrorIs(t, err, routing.ErrUnknownName)
}

func TestHandlerForServeMux(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	app, err := tornago.NewApplication(nil, tornago.Settings{Logger: newLogger(logs)})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("GET /rooms/{room}/msgs/{rest...}", app.HandlerFor(fn(func(h *funcHandler, args ...string) error {
		return h.Write(map[string]any{"args": args, "kwargs": h.PathKwargs()})
	})))
	mux.Handle("/plain", app.HandlerFor(fn(func(h *funcHandler, _ ...string) error {
		_, err := h.GetArgument("q")
		return err
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/rooms/lobby/msgs/a/b")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.JSONEq(t, `{"args":null,"kwargs":{"room":"lobby","rest":"a/b"}}`, string(b))
	resp, err = srv.Client().Get(srv.URL + "/plain")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 400, resp.StatusCode)
	assert.Contains(t, logs.String(), "400 GET /plain (127.0.0.1)")
}

func TestServeAndShutdown(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	app, err := tornago.NewApplication(route(`/slow`, fn(func(h *funcHandler, _ ...string) error {
		close(started)
		<-release
		return h.Write("finished")
	})), tornago.Settings{Logger: newLogger(&logBuffer{})})
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- app.Serve(l) }()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	got := make(chan string, 1)
	go func() {
		resp, err := client.Get("http://" + l.Addr().String() + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-started
	shutdown := make(chan error, 1)
	go func() { shutdown <- app.Shutdown(context.Background()) }()
	time.Sleep(50 * time.Millisecond) // Shutdown waits for the in-flight request
	close(release)
	assert.Equal(t, "finished", <-got)
	require.NoError(t, <-shutdown)
	require.NoError(t, <-served, "Serve returns nil after Shutdown")

	l2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	assert.ErrorIs(t, app.Serve(l2), http.ErrServerClosed, "no serving after Shutdown")
}

func TestShutdownDeadline(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	app, err := tornago.NewApplication(route(`/`, fn(func(h *funcHandler, _ ...string) error {
		close(started)
		<-release
		return nil
	})), tornago.Settings{Logger: newLogger(&logBuffer{})})
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- app.Serve(l) }()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := client.Get("http://" + l.Addr().String() + "/"); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = app.Shutdown(ctx)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	close(release)
	<-done
	require.NoError(t, <-served)
}

func TestListenAndServe(t *testing.T) {
	t.Parallel()
	app, err := tornago.NewApplication(nil, tornago.Settings{Logger: newLogger(&logBuffer{})})
	require.NoError(t, err)
	assert.Error(t, app.ListenAndServe("127.0.0.1:-1"))
	served := make(chan error, 1)
	go func() { served <- app.ListenAndServe("127.0.0.1:0") }()
	// Shutdown may come before or after the server registered itself;
	// either way ListenAndServe ends.
	require.NoError(t, app.Shutdown(context.Background()))
	err = <-served
	assert.True(t, err == nil || errors.Is(err, http.ErrServerClosed), "%v", err)
}
