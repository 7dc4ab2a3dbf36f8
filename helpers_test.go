package tornago_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

// logBuffer collects log output from concurrent requests.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testApp is an Application behind an httptest server, with its log.
type testApp struct {
	*testing.T
	app    *tornago.Application
	srv    *httptest.Server
	client *http.Client
	logs   *logBuffer
}

// newTestApp serves routes with settings (its Logger replaced by one
// writing to the returned testApp's logs) over real HTTP.
func newTestApp(t *testing.T, routes []tornago.Route, settings tornago.Settings) *testApp {
	t.Helper()
	logs := &logBuffer{}
	settings.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app, err := tornago.NewApplication(routes, settings)
	require.NoError(t, err)
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &testApp{T: t, app: app, srv: srv, client: client, logs: logs}
}

// route is a one-route table.
func route(pattern string, f tornago.Factory) []tornago.Route {
	return []tornago.Route{{Pattern: pattern, Handler: f}}
}

// response is a received response with its body read.
type response struct {
	*http.Response
	Body string
}

// do sends a request; header is a list of name, value pairs.
func (ta *testApp) do(method, path, body string, header ...string) response {
	ta.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ta.srv.URL+path, r)
	require.NoError(ta, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := ta.client.Do(req)
	require.NoError(ta, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(ta, err)
	return response{Response: resp, Body: string(b)}
}

func (ta *testApp) get(path string, header ...string) response {
	ta.Helper()
	return ta.do(http.MethodGet, path, "", header...)
}

// postForm posts form values urlencoded.
func (ta *testApp) postForm(path string, form url.Values, header ...string) response {
	ta.Helper()
	return ta.do(http.MethodPost, path, form.Encode(),
		append([]string{"Content-Type", "application/x-www-form-urlencoded"}, header...)...)
}

// handlerFunc adapts a function to a handler with all verbs, for tests.
type funcHandler struct {
	tornago.RequestHandler
	fn func(h *funcHandler, args ...string) error
}

func (h *funcHandler) Get(args ...string) error    { return h.fn(h, args...) }
func (h *funcHandler) Post(args ...string) error   { return h.fn(h, args...) }
func (h *funcHandler) Put(args ...string) error    { return h.fn(h, args...) }
func (h *funcHandler) Delete(args ...string) error { return h.fn(h, args...) }
func (h *funcHandler) Patch(args ...string) error  { return h.fn(h, args...) }

// fn returns a Factory of funcHandlers running f.
func fn(f func(h *funcHandler, args ...string) error) tornago.Factory {
	return func() tornago.Handler { return &funcHandler{fn: f} }
}

// errorPage is Tornado's default error page for code and reason.
func errorPage(code, reason string) string {
	return "<html><title>" + code + ": " + reason + "</title><body>" + code + ": " + reason + "</body></html>"
}

// newLogger logs everything to w as text.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
