package tornago_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

type ctxKey struct{}

// served is what withContext reports once the Application has returned
// from a request: how many body bytes it read.
type served struct{ bodyRead int64 }

// countingBody counts what the server reads of a request body.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// withContext does to every request what chi, gorilla/mux and request-ID
// middleware do: it serves a copy made by r.WithContext, so the
// Application never sees net/http's own *http.Request. Once next has
// returned (the Application's cleanup included), it reports on done.
func withContext(next http.Handler, done chan<- served) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, "request-id"))
		body := &countingBody{ReadCloser: r.Body}
		r.Body = body
		defer func() { done <- served{bodyRead: body.n.Load()} }()
		next.ServeHTTP(w, r)
	})
}

// wrappedApp serves routes behind withContext; done reports each request's
// end.
func wrappedApp(t *testing.T, routes []tornago.Route, settings tornago.Settings) (*testApp, <-chan served) {
	t.Helper()
	logs := &logBuffer{}
	settings.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app, err := tornago.NewApplication(routes, settings)
	require.NoError(t, err)
	done := make(chan served, 16)
	srv := httptest.NewServer(withContext(app, done))
	t.Cleanup(srv.Close)
	return &testApp{T: t, app: app, srv: srv, client: srv.Client(), logs: logs}, done
}

// uploadSocket is a WebSocket route, for a handshake request with a body.
type uploadSocket struct{ tornago.WebSocketHandler }

// multipartBody is a form with a file of size bytes and, if xsrf is not
// empty, an _xsrf field.
func multipartBody(t *testing.T, size int, xsrf string) (body, contentType string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if xsrf != "" {
		require.NoError(t, mw.WriteField("_xsrf", xsrf))
	}
	fw, err := mw.CreateFormFile("file", "big.bin")
	require.NoError(t, err)
	_, err = fw.Write(bytes.Repeat([]byte("x"), size))
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	return b.String(), mw.FormDataContentType()
}

// Not parallel: it points TMPDIR, where multipart files go, at its own
// directory.
func TestMultipartTempFilesRemovedBehindMiddleware(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	upload := func(h *funcHandler, _ ...string) error {
		files := h.Files("file")
		if len(files) != 1 {
			return fmt.Errorf("got %d files", len(files))
		}
		f, err := files[0].Open()
		if err != nil {
			return err
		}
		defer f.Close()
		_, onDisk := f.(*os.File)
		if h.Request().URL.Path == "/panic" {
			panic("after reading the upload")
		}
		return h.Write(map[string]bool{"on_disk": onDisk})
	}
	ta, done := wrappedApp(t, []tornago.Route{
		{Pattern: `/up`, Handler: fn(upload)},
		{Pattern: `/panic`, Handler: fn(upload)},
		{Pattern: `/ws`, Handler: func() tornago.Handler { return &uploadSocket{} }},
	}, tornago.Settings{MaxFormMemory: 1 << 10, XSRFCookies: true})
	token := hex.EncodeToString([]byte("0123456789abcdef")) // a version 1 token: the cookie and argument are equal

	tests := []struct {
		name, method, path, token string
		status                    int
		body                      string
	}{
		{"handled", "POST", "/up", token, 200, `{"on_disk":true}`},
		{"panic", "POST", "/panic", token, 500, ""},
		{"404", "POST", "/nowhere", token, 404, ""},
		{"XSRF failure", "POST", "/up", "", 403, ""},
		{"WebSocket handshake refused", "GET", "/ws", token, 400, ""},
	}
	for _, tt := range tests {
		body, ct := multipartBody(t, 64<<10, tt.token)
		resp := ta.do(tt.method, tt.path, body, "Content-Type", ct, "Cookie", "_xsrf="+token)
		require.Equal(t, tt.status, resp.StatusCode, tt.name+": "+resp.Body)
		if tt.body != "" {
			require.JSONEq(t, tt.body, resp.Body, tt.name+": the file must go to disk for this test to mean anything")
		}
		<-done
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.Empty(t, entries, tt.name+": temporary files left behind")
	}
}

// headOnlyRequest sends head (a request without its body) and then a few bytes
// of body over a fresh TCP connection, and reads the response without
// sending the rest. (net/http itself reads the rest of a body of up to
// 256 KiB that the handler left before it answers, so the declared length
// must be larger than that.)
func headOnlyRequest(t *testing.T, addr, name, head string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	// Only a guard against a server that waits for the body: the answer
	// must come without it.
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	_, err = io.WriteString(conn, head+"a=1")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, name+": no response before the body was sent")
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestDeclaredBodyOverLimitRefusedUnread(t *testing.T) {
	t.Parallel()
	ta, done := wrappedApp(t, route(`/form`, fn(func(h *funcHandler, _ ...string) error {
		a, err := h.GetArgument("a", tornago.Default(""))
		if err != nil {
			return err
		}
		return h.Write("read " + a)
	})), tornago.Settings{MaxFormMemory: 1 << 10})
	addr := ta.srv.Listener.Addr().String()
	tests := []struct {
		name, contentType string
		length            int64
	}{
		{"1 GiB form", "application/x-www-form-urlencoded", 1 << 30},
		{"1 GiB multipart", "multipart/form-data; boundary=x", 1 << 30},
		{"1 GiB of anything", "application/octet-stream", 1 << 30},
	}
	for _, tt := range tests {
		resp := headOnlyRequest(t, addr, tt.name, fmt.Sprintf("POST /form HTTP/1.1\r\nHost: test\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
			tt.contentType, tt.length))
		assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, tt.name)
		assert.Zero(t, (<-done).bodyRead, tt.name+": the server read the body")
	}
}

func TestFormBodyReadStopsAtMaxFormMemory(t *testing.T) {
	t.Parallel()
	const limit = 1 << 10
	ta, done := wrappedApp(t, route(`/form`, fn(func(h *funcHandler, _ ...string) error {
		_, err := h.GetArgument("a")
		return err
	})), tornago.Settings{MaxFormMemory: limit})
	body := "a=" + strings.Repeat("x", 64<<10) // over MaxFormMemory, under net/http's 256 KiB drain
	tests := []struct {
		name     string
		length   int64
		maxRead  int64
		readerOf func() io.Reader
	}{
		// A chunked body declares no length, so only reading tells its size.
		{"chunked", -1, limit + 1, func() io.Reader { return io.MultiReader(strings.NewReader(body)) }},
		{"declared length", int64(len(body)), 0, func() io.Reader { return strings.NewReader(body) }},
	}
	for _, tt := range tests {
		req, err := http.NewRequest("POST", ta.srv.URL+"/form", tt.readerOf())
		require.NoError(t, err)
		req.ContentLength = tt.length
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := ta.client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, tt.name)
		assert.LessOrEqual(t, (<-done).bodyRead, tt.maxRead, tt.name+": the server read past MaxFormMemory")
	}
}

// queryOf is n arguments "a=0&a=1&...".
func queryOf(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte('&')
		}
		fmt.Fprintf(&b, "a=%d", i)
	}
	return b.String()
}

func TestTooManyArguments(t *testing.T) {
	t.Parallel()
	count := fn(func(h *funcHandler, _ ...string) error {
		all, err := h.GetArguments("a")
		if err != nil {
			return err
		}
		return h.Write(map[string]int{"a": len(all)})
	})
	ta, done := wrappedApp(t, route(`/count`, count), tornago.Settings{Debug: true, XSRFCookies: true})
	token := hex.EncodeToString([]byte("0123456789abcdef"))
	cookie := "_xsrf=" + token

	resp := ta.get("/count?" + queryOf(tornago.DefaultMaxArguments))
	<-done
	require.Equal(t, 200, resp.StatusCode, resp.Body)
	assert.JSONEq(t, `{"a":10000}`, resp.Body)

	resp = ta.get("/count?" + queryOf(tornago.DefaultMaxArguments+1))
	<-done
	assert.Equal(t, 400, resp.StatusCode, "the handler ran without its arguments")
	assert.Contains(t, resp.Body, "Invalid arguments: the query string has 10001, more than the limit of 10000")

	form := queryOf(tornago.DefaultMaxArguments) + "&_xsrf=" + token
	resp = ta.do("POST", "/count", form, "Content-Type", "application/x-www-form-urlencoded", "Cookie", cookie)
	<-done
	assert.Equal(t, 400, resp.StatusCode, "a form whose _xsrf was dropped gets 403")
	assert.Contains(t, resp.Body, "Invalid arguments: the body has 10001, more than the limit of 10000")

	more, done := wrappedApp(t, route(`/count`, count), tornago.Settings{MaxArguments: 15000})
	resp = more.get("/count?" + queryOf(15000))
	<-done
	require.Equal(t, 200, resp.StatusCode, "MaxArguments beyond url.ParseQuery's own cap")
	assert.JSONEq(t, `{"a":15000}`, resp.Body)
}

func TestMultipartTooManyParts(t *testing.T) {
	t.Parallel()
	ta, done := wrappedApp(t, route(`/form`, fn(func(h *funcHandler, _ ...string) error {
		return h.Write("parsed")
	})), tornago.Settings{})
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for range 1001 { // net/http's limit is 1,000 (GODEBUG multipartmaxparts)
		require.NoError(t, mw.WriteField("a", "1"))
	}
	require.NoError(t, mw.Close())
	resp := ta.do("POST", "/form", b.String(), "Content-Type", mw.FormDataContentType())
	<-done
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
}
