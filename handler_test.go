package tornago_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

// lifecycleHandler records the order of its hooks.
type lifecycleHandler struct {
	tornago.RequestHandler
	rec        *recorder
	prepareErr error
	finishIn   bool // Prepare finishes the response itself
}

type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func (h *lifecycleHandler) Initialize() { h.rec.add("initialize") }

func (h *lifecycleHandler) Prepare() error {
	h.rec.add("prepare")
	if h.finishIn {
		if err := h.Write("from prepare"); err != nil {
			return err
		}
		return h.Finish()
	}
	return h.prepareErr
}

func (h *lifecycleHandler) Get(args ...string) error {
	h.rec.add("get:" + strings.Join(args, ","))
	return h.Write("ok")
}

func (h *lifecycleHandler) OnFinish() { h.rec.add("on_finish") }

func TestLifecycleOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		handler  lifecycleHandler
		status   int
		body     string
		expected []string
	}{
		{"normal", lifecycleHandler{}, 200, "ok",
			[]string{"initialize", "prepare", "get:a,b", "on_finish"}},
		{"prepare error", lifecycleHandler{prepareErr: tornago.HTTPError{Code: 401}}, 401,
			errorPage("401", "Unauthorized"), []string{"initialize", "prepare", "on_finish"}},
		{"prepare finishes", lifecycleHandler{finishIn: true}, 200, "from prepare",
			[]string{"initialize", "prepare", "on_finish"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			ta := newTestApp(t, route(`/(\w+)/(\w+)`, func() tornago.Handler {
				h := tt.handler
				h.rec = rec
				return &h
			}), tornago.Settings{})
			resp := ta.get("/a/b")
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, tt.body, resp.Body)
			assert.Equal(t, tt.expected, rec.get())
		})
	}
}

func TestOneHandlerPerRequest(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	made := 0
	ta := newTestApp(t, route(`/`, func() tornago.Handler {
		mu.Lock()
		made++
		mu.Unlock()
		return &funcHandler{fn: func(h *funcHandler, _ ...string) error { return h.Write("x") }}
	}), tornago.Settings{})
	mu.Lock()
	made = 0 // NewApplication made one to inspect its type
	mu.Unlock()
	for range 3 {
		assert.Equal(t, 200, ta.get("/").StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 3, made)
}

type getOnly struct{ tornago.RequestHandler }

func (h *getOnly) Get(...string) error { return h.Write("body") }

type postOnly struct{ tornago.RequestHandler }

func (h *postOnly) Post(...string) error { return h.Write("posted") }

func TestMethodDispatch(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, []tornago.Route{
		{Pattern: `/get`, Handler: func() tornago.Handler { return &getOnly{} }},
		{Pattern: `/post`, Handler: func() tornago.Handler { return &postOnly{} }},
	}, tornago.Settings{})
	tests := []struct {
		method, path string
		status       int
		body, allow  string
	}{
		{"GET", "/get", 200, "body", ""},
		{"HEAD", "/get", 200, "", ""}, // falls back to Get, body dropped
		{"POST", "/get", 405, errorPage("405", "Method Not Allowed"), "GET, HEAD"},
		{"DELETE", "/get", 405, errorPage("405", "Method Not Allowed"), "GET, HEAD"},
		{"POST", "/post", 200, "posted", ""},
		{"GET", "/post", 405, errorPage("405", "Method Not Allowed"), "POST"},
		{"HEAD", "/post", 405, "", "POST"},
		{"PROPFIND", "/get", 405, errorPage("405", "Method Not Allowed"), ""},
	}
	for _, tt := range tests {
		resp := ta.do(tt.method, tt.path, "")
		assert.Equal(t, tt.status, resp.StatusCode, "%s %s", tt.method, tt.path)
		assert.Equal(t, tt.body, resp.Body, "%s %s", tt.method, tt.path)
		assert.Equal(t, tt.allow, resp.Header.Get("Allow"), "%s %s", tt.method, tt.path)
	}
	head := ta.do("HEAD", "/get", "")
	assert.Equal(t, "4", head.Header.Get("Content-Length"), "HEAD keeps GET's Content-Length")
}

type defaultHeaders struct{ tornago.RequestHandler }

func (h *defaultHeaders) SetDefaultHeaders() { _ = h.SetHeader("Server", "tornago-test") }
func (h *defaultHeaders) Get(...string) error {
	return errors.New("boom")
}

func TestSetDefaultHeadersSurvivesErrorPage(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, func() tornago.Handler { return &defaultHeaders{} }), tornago.Settings{})
	resp := ta.get("/")
	assert.Equal(t, 500, resp.StatusCode)
	assert.Equal(t, "tornago-test", resp.Header.Get("Server"))
}

func TestPathArgsAndKwargs(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, []tornago.Route{
		{Pattern: `/pos/([^/]+)/(\d+)`, Handler: fn(func(h *funcHandler, args ...string) error {
			require.Equal(t, args, h.PathArgs())
			return h.Write(map[string]any{"args": args, "kwargs": h.PathKwargs()})
		})},
		{Pattern: `/named/(?P<room>[^/]+)/(?P<id>\d+)`, Handler: fn(func(h *funcHandler, args ...string) error {
			return h.Write(map[string]any{"args": args, "room": h.PathKwarg("room"), "id": h.PathKwarg("id"),
				"none": h.PathKwarg("none")})
		})},
	}, tornago.Settings{})
	assert.JSONEq(t, `{"args":["a b","42"],"kwargs":null}`, ta.get("/pos/a%20b/42").Body)
	assert.JSONEq(t, `{"args":null,"room":"lobby","id":"7","none":""}`, ta.get("/named/lobby/7").Body)
	resp := ta.get("/pos/%FF/1")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, errorPage("400", "Bad Request"), resp.Body)
}

func TestHandlerAccessors(t *testing.T) {
	t.Parallel()
	var ta *testApp
	ta = newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		assert.Same(t, ta.app, h.Application())
		assert.Equal(t, "/static/", h.Settings().StaticURLPrefix)
		assert.NotNil(t, h.Logger())
		assert.Equal(t, "127.0.0.1", h.RemoteIP())
		assert.Len(t, h.Cookies(), 2)
		require.NoError(t, h.ClearAllCookies(tornago.CookieDomain("example.com")))
		assert.False(t, h.Finished())
		require.NoError(t, h.Finish())
		assert.True(t, h.Finished())
		assert.ErrorIs(t, h.Flush(), tornago.ErrFinished)
		assert.ErrorIs(t, h.Render("x", nil), tornago.ErrFinished)
		assert.ErrorIs(t, h.Redirect("/"), tornago.ErrFinished)
		return nil
	})), tornago.Settings{})
	resp := ta.get("/", "Cookie", "a=1; b=2")
	require.Equal(t, 200, resp.StatusCode)
	var names []string
	for _, c := range resp.Cookies() {
		assert.Empty(t, c.Value)
		assert.Equal(t, "example.com", c.Domain)
		names = append(names, c.Name)
	}
	assert.Equal(t, []string{"a", "b"}, names)
}
