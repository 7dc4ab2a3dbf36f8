package tornago_test

import (
	"bufio"
	"html/template"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

type payload struct {
	Name string `json:"name"`
	HTML string `json:"html"`
}

func TestWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value any
		body  string
		ctype string
	}{
		{"string", "héllo", "héllo", "text/html; charset=UTF-8"},
		{"bytes", []byte{0, 1, 2}, "\x00\x01\x02", "text/html; charset=UTF-8"},
		{"named string", template.HTML("<b>x</b>"), "<b>x</b>", "text/html; charset=UTF-8"},
		{"map", map[string]any{"a": 1, "s": "</script><!-- & é"},
			`{"a":1,"s":"<\/script><!-- & é"}`, "application/json; charset=UTF-8"},
		{"struct", payload{Name: "n", HTML: "</b>"}, `{"name":"n","html":"<\/b>"}`, "application/json; charset=UTF-8"},
		{"struct pointer", &payload{Name: "p"}, `{"name":"p","html":""}`, "application/json; charset=UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
				return h.Write(tt.value)
			})), tornago.Settings{})
			resp := ta.get("/")
			require.Equal(t, 200, resp.StatusCode)
			assert.Equal(t, tt.body, resp.Body)
			assert.Equal(t, tt.ctype, resp.Header.Get("Content-Type"))
			assert.Equal(t, len(tt.body), int(resp.ContentLength))
		})
	}
}

func TestWriteRefusesLists(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		for _, v := range []any{[]string{"a"}, [2]int{}, 42, nil, (*payload)(nil)} {
			assert.ErrorIs(t, h.Write(v), tornago.ErrUnsupportedWrite, "%T", v)
		}
		return h.Write(map[string]any{"items": []string{"a"}})
	})), tornago.Settings{})
	assert.JSONEq(t, `{"items":["a"]}`, ta.get("/").Body)
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		require.NoError(t, h.SetHeader("X-One", "1"))
		require.NoError(t, h.SetHeader("X-One", "2"))
		require.NoError(t, h.AddHeader("X-Many", "a"))
		require.NoError(t, h.AddHeader("X-Many", "b"))
		require.NoError(t, h.SetHeader("X-Gone", "x"))
		h.ClearHeader("X-Gone")
		for _, bad := range []string{"a\r\nSet-Cookie: x=y", "nul\x00", "tab\there", "esc\x1b"} {
			assert.ErrorIs(t, h.SetHeader("X-Bad", bad), tornago.ErrInvalidHeader, "%q", bad)
			assert.ErrorIs(t, h.AddHeader("X-Bad", bad), tornago.ErrInvalidHeader, "%q", bad)
		}
		for _, bad := range []string{"", "X Bad", "X:Bad", "X\nBad"} {
			assert.ErrorIs(t, h.SetHeader(bad, "v"), tornago.ErrInvalidHeader, "%q", bad)
		}
		require.NoError(t, h.SetHeader("X-Unicode", "naïve"))
		h.SetStatus(201)
		assert.Equal(t, 201, h.Status())
		return h.Write("created")
	})), tornago.Settings{})
	resp := ta.get("/")
	assert.Equal(t, 201, resp.StatusCode)
	assert.Equal(t, "2", resp.Header.Get("X-One"))
	assert.Equal(t, []string{"a", "b"}, resp.Header.Values("X-Many"))
	assert.Empty(t, resp.Header.Values("X-Gone"))
	assert.Empty(t, resp.Header.Values("X-Bad"))
	assert.Empty(t, resp.Header.Get("Etag"), "no ETag on non-200")
}

func TestClearContentTypeDisablesSniffing(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		h.ClearHeader("Content-Type")
		return h.Write("<html><body>sniff me</body></html>")
	})), tornago.Settings{})
	resp := ta.get("/")
	assert.Empty(t, resp.Header.Values("Content-Type"))
}

func TestInvalidStatusPanicsInto500(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		h.SetStatus(42)
		return nil
	})), tornago.Settings{})
	assert.Equal(t, 500, ta.get("/").StatusCode)
}

func TestRedirect(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, []tornago.Route{
		{Pattern: `/temp`, Handler: fn(func(h *funcHandler, _ ...string) error { return h.Redirect("/there?x=1") })},
		{Pattern: `/perm`, Handler: fn(func(h *funcHandler, _ ...string) error {
			return h.RedirectStatus("https://example.com/", http.StatusMovedPermanently)
		})},
		{Pattern: `/bad`, Handler: fn(func(h *funcHandler, _ ...string) error {
			assert.Error(t, h.RedirectStatus("/x", 200))
			assert.ErrorIs(t, h.Redirect("/x\r\nX-Evil: 1"), tornago.ErrInvalidHeader)
			_ = h.Write("streaming")
			require.NoError(t, h.Flush())
			assert.ErrorIs(t, h.Redirect("/x"), tornago.ErrHeadersWritten)
			return nil
		})},
	}, tornago.Settings{})
	resp := ta.get("/temp")
	assert.Equal(t, 302, resp.StatusCode)
	assert.Equal(t, "/there?x=1", resp.Header.Get("Location"))
	assert.Empty(t, resp.Body)
	resp = ta.get("/perm")
	assert.Equal(t, 301, resp.StatusCode)
	assert.Equal(t, "https://example.com/", resp.Header.Get("Location"))
	resp = ta.get("/bad")
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "streaming", resp.Body)
}

func TestFlushStreams(t *testing.T) {
	t.Parallel()
	next := make(chan struct{})
	ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		_ = h.Write("first\n")
		if err := h.Flush(); err != nil {
			return err
		}
		<-next
		_ = h.Write("second\n")
		return nil
	})), tornago.Settings{})
	resp, err := ta.client.Get(ta.srv.URL + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, []string{"chunked"}, resp.TransferEncoding)
	assert.Empty(t, resp.Header.Get("Etag"), "no ETag once streaming")
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "first\n", line, "the first chunk arrives before the handler ends")
	close(next)
	line, err = r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "second\n", line)
}

type noEtag struct{ tornago.RequestHandler }

func (h *noEtag) Get(...string) error { return h.Write("x") }
func (h *noEtag) ComputeEtag() string { return "" }

func TestEtag(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, []tornago.Route{
		{Pattern: `/`, Handler: fn(func(h *funcHandler, _ ...string) error { return h.Write("hello") })},
		{Pattern: `/none`, Handler: func() tornago.Handler { return &noEtag{} }},
		{Pattern: `/own`, Handler: fn(func(h *funcHandler, _ ...string) error {
			_ = h.SetHeader("Etag", `"mine"`)
			return h.Write("hello")
		})},
	}, tornago.Settings{})
	const etag = `"aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"` // sha1("hello")
	resp := ta.get("/")
	assert.Equal(t, etag, resp.Header.Get("Etag"))
	tests := []struct {
		path, inm string
		status    int
	}{
		{"/", etag, 304},
		{"/", "W/" + etag, 304},
		{"/", `"other", ` + etag, 304},
		{"/", "*", 304},
		{"/", `"other"`, 200},
		{"/own", `"mine"`, 200}, // an Etag set by the handler is not checked (as Tornado)
	}
	for _, tt := range tests {
		resp := ta.get(tt.path, "If-None-Match", tt.inm)
		assert.Equal(t, tt.status, resp.StatusCode, tt.inm)
		if tt.status == 304 {
			assert.Empty(t, resp.Body)
			assert.Empty(t, resp.Header.Get("Content-Type"))
			assert.Equal(t, etag, resp.Header.Get("Etag"))
		}
	}
	resp = ta.do("POST", "/", "", "If-None-Match", etag)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Etag"), "only GET and HEAD get ETags")
	resp = ta.get("/none")
	assert.Empty(t, resp.Header.Get("Etag"))
}

func TestNoContent(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		h.SetStatus(204)
		return h.Write("dropped")
	})), tornago.Settings{})
	resp := ta.do("DELETE", "/", "")
	assert.Equal(t, 204, resp.StatusCode)
	assert.Empty(t, resp.Body)
	assert.Empty(t, resp.Header.Get("Content-Type"))
}
