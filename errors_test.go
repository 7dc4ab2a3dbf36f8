package tornago_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

func TestErrorResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		debug  bool
		err    error
		status int
		body   string // "" = errorPage(status)
		log    string // must appear in the log
	}{
		{"http error", false, tornago.HTTPError{Code: 404}, 404, "", ""},
		{"http error pointer", false, &tornago.HTTPError{Code: 403, Message: "no"}, 403, "", "403 GET /e (127.0.0.1): no"},
		{"message not shown", false, tornago.HTTPError{Code: 400, Message: "secret detail"}, 400, "", "secret detail"},
		{"wrapped http error", false, fmt.Errorf("ctx: %w", tornago.HTTPError{Code: 409}), 409, "", ""},
		{"errorf", false, tornago.Errorf(422, "bad %s: %w", "thing", io.EOF), 422, "", "bad thing: EOF"},
		{"invalid code", false, tornago.HTTPError{Code: 42}, 500, "", ""},
		{"unknown code", false, tornago.HTTPError{Code: 599}, 599, errorPage("599", "Unknown"), ""},
		{"plain error", false, errors.New("db down"), 500, "", "db down"},
		{"plain error debug", true, errors.New("db down"), 500,
			"500: Internal Server Error\n\ndb down\n", "db down"},
		{"http error debug", true, tornago.HTTPError{Code: 400, Message: "detail"}, 400,
			"400: Bad Request\n\nHTTP 400: Bad Request (detail)\n", "detail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ta := newTestApp(t, route(`/e`, fn(func(h *funcHandler, _ ...string) error {
				_ = h.Write("partial output, discarded")
				_ = h.SetHeader("X-Dropped", "1")
				return tt.err
			})), tornago.Settings{Debug: tt.debug})
			resp := ta.get("/e")
			assert.Equal(t, tt.status, resp.StatusCode)
			want := tt.body
			if want == "" {
				want = errorPage(fmt.Sprint(tt.status), http.StatusText(tt.status))
			}
			assert.Equal(t, want, resp.Body)
			assert.Empty(t, resp.Header.Get("X-Dropped"), "headers are reset for the error page")
			if tt.log != "" {
				assert.Contains(t, ta.logs.String(), tt.log)
			}
		})
	}
}

func TestHTTPErrorString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{tornago.HTTPError{Code: 404}, "HTTP 404: Not Found"},
		{tornago.HTTPError{Code: 400, Message: "Missing argument x"}, "HTTP 400: Bad Request (Missing argument x)"},
		{tornago.HTTPError{Code: 500, Err: io.EOF}, "HTTP 500: Internal Server Error: EOF"},
		{tornago.Errorf(403, "denied: %w", io.EOF), "HTTP 403: Forbidden (denied: EOF)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.err.Error())
	}
	assert.ErrorIs(t, tornago.Errorf(403, "denied: %w", io.EOF), io.EOF)
}

func TestHTTPErrorHeader(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		return tornago.HTTPError{Code: 401, Header: http.Header{"Www-Authenticate": {`Basic realm="x"`}}}
	})), tornago.Settings{})
	resp := ta.get("/")
	assert.Equal(t, 401, resp.StatusCode)
	assert.Equal(t, `Basic realm="x"`, resp.Header.Get("WWW-Authenticate"))
}

type customErrors struct{ tornago.RequestHandler }

func (h *customErrors) Get(args ...string) error {
	if args[0] == "panic" {
		panic("kaboom")
	}
	return tornago.HTTPError{Code: 418, Message: "short and stout"}
}

func (h *customErrors) WriteError(code int, err error) {
	var he tornago.HTTPError
	msg := "?"
	if errors.As(err, &he) {
		msg = he.Message
	}
	var pe *tornago.PanicError
	if errors.As(err, &pe) {
		msg = fmt.Sprint(pe.Value)
	}
	_ = h.Write(map[string]any{"code": code, "message": msg})
}

func TestCustomWriteError(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/(\w+)`, func() tornago.Handler { return &customErrors{} }), tornago.Settings{})
	resp := ta.get("/x")
	assert.Equal(t, 418, resp.StatusCode)
	assert.JSONEq(t, `{"code":418,"message":"short and stout"}`, resp.Body)
	assert.Equal(t, "application/json; charset=UTF-8", resp.Header.Get("Content-Type"))
	resp = ta.get("/panic")
	assert.Equal(t, 500, resp.StatusCode)
	assert.JSONEq(t, `{"code":500,"message":"kaboom"}`, resp.Body)
}

type panickyWriteError struct{ tornago.RequestHandler }

func (h *panickyWriteError) Get(...string) error   { return errors.New("first") }
func (h *panickyWriteError) WriteError(int, error) { panic("second") }

func TestPanicInWriteErrorFallsBackToDefaultPage(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, func() tornago.Handler { return &panickyWriteError{} }), tornago.Settings{})
	resp := ta.get("/")
	assert.Equal(t, 500, resp.StatusCode)
	assert.Equal(t, errorPage("500", "Internal Server Error"), resp.Body)
	assert.Contains(t, ta.logs.String(), "uncaught panic in WriteError")
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, []tornago.Route{
		{Pattern: `/panic`, Handler: fn(func(h *funcHandler, _ ...string) error { panic("kaboom") })},
		{Pattern: `/panic-error`, Handler: fn(func(h *funcHandler, _ ...string) error { panic(io.ErrUnexpectedEOF) })},
		{Pattern: `/panic-init`, Handler: func() tornago.Handler { return &panicInit{} }},
		{Pattern: `/panic-after-flush`, Handler: fn(func(h *funcHandler, _ ...string) error {
			_ = h.Write("partial")
			require.NoError(t, h.Flush())
			panic("late")
		})},
		{Pattern: `/ok`, Handler: fn(func(h *funcHandler, _ ...string) error { return h.Write("fine") })},
	}, tornago.Settings{})
	for _, path := range []string{"/panic", "/panic-error", "/panic-init"} {
		resp := ta.get(path)
		assert.Equal(t, 500, resp.StatusCode, path)
		assert.Equal(t, errorPage("500", "Internal Server Error"), resp.Body, path)
	}
	logs := ta.logs.String()
	assert.Contains(t, logs, "uncaught panic GET /panic (127.0.0.1)")
	assert.Contains(t, logs, "kaboom")
	assert.Contains(t, logs, "goroutine", "the stack is logged")
	assert.Contains(t, logs, "500 GET /panic (127.0.0.1)", "access log")

	// After the headers went out, the connection is cut so the client
	// cannot mistake the partial body for a complete one.
	req, err := http.NewRequest("GET", ta.srv.URL+"/panic-after-flush", nil)
	require.NoError(t, err)
	resp, err := ta.client.Do(req)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode)
	}
	assert.Error(t, err, "truncated response must not read as complete")
	assert.Equal(t, "fine", ta.get("/ok").Body, "the server survives")
}

type panicInit struct{ tornago.RequestHandler }

func (h *panicInit) Initialize()         { panic("in initialize") }
func (h *panicInit) Get(...string) error { return nil }

func TestPanicDebugShowsStack(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error { panic("kaboom") })),
		tornago.Settings{Debug: true})
	resp := ta.get("/")
	assert.Equal(t, 500, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Body, "500: Internal Server Error\n\npanic: kaboom\n"), resp.Body)
	assert.Contains(t, resp.Body, "goroutine")
	assert.Equal(t, "text/plain; charset=UTF-8", resp.Header.Get("Content-Type"))
}

func TestErrorAfterFinishIsOnlyLogged(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		_ = h.Write("done")
		require.NoError(t, h.Finish())
		assert.ErrorIs(t, h.Write("more"), tornago.ErrFinished)
		assert.ErrorIs(t, h.Finish(), tornago.ErrFinished)
		return errors.New("after the fact")
	})), tornago.Settings{})
	resp := ta.get("/")
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "done", resp.Body)
	assert.Contains(t, ta.logs.String(), "after the fact")
}

// afterFirst returns a factory whose first handler (the one NewApplication
// inspects) is fine and whose later calls run fail.
func afterFirst(fail func() tornago.Handler) tornago.Factory {
	var calls atomic.Int32
	return func() tornago.Handler {
		if calls.Add(1) == 1 {
			return &getOnly{}
		}
		return fail()
	}
}

// NewApplication refuses factories that fail at once
// (handlercheck_test.go); one that fails later costs only its requests.
func TestBadFactories(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, []tornago.Route{
		{Pattern: `/nil`, Handler: afterFirst(func() tornago.Handler { return nil })},
		{Pattern: `/typed-nil`, Handler: afterFirst(func() tornago.Handler { return (*getOnly)(nil) })},
		{Pattern: `/panic`, Handler: afterFirst(func() tornago.Handler { panic("factory") })},
	}, tornago.Settings{})
	for _, p := range []string{"/nil", "/typed-nil", "/panic"} {
		resp := ta.get(p)
		assert.Equal(t, 500, resp.StatusCode, p)
		assert.Equal(t, errorPage("500", "Internal Server Error"), resp.Body, p)
	}
	assert.Contains(t, ta.logs.String(), "handler factory returned nil")
	assert.Contains(t, ta.logs.String(), "panic=factory")
}

func TestErrorAfterFlushCutsConnection(t *testing.T) {
	t.Parallel()
	finished := make(chan struct{})
	ta := newTestApp(t, route(`/`, func() tornago.Handler {
		return &onFinish{done: finished, fn: func(h *onFinish) error {
			_ = h.Write("partial")
			require.NoError(t, h.Flush())
			return errors.New("failed mid-stream")
		}}
	}), tornago.Settings{})
	resp, err := ta.client.Get(ta.srv.URL + "/")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	assert.Error(t, err, "the truncated body must not read as complete")
	<-finished
	assert.Contains(t, ta.logs.String(), "cannot send error response after headers written")
}

type onFinish struct {
	tornago.RequestHandler
	done chan struct{}
	fn   func(h *onFinish) error
}

func (h *onFinish) Get(...string) error { return h.fn(h) }
func (h *onFinish) OnFinish()           { close(h.done) }
