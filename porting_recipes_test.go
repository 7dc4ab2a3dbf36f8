package tornago_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

// The recipes of docs/porting.md ("Recipes for things Tornado does
// differently"), run over HTTP.

// reasonHandler ports `raise HTTPError(400, reason="Name taken")`: net/http
// writes only the standard reason phrase, so the reason rides in a header
// and, through WriteError, in the page.
type reasonHandler struct{ tornago.RequestHandler }

func (h *reasonHandler) Post(...string) error {
	return tornago.HTTPError{Code: http.StatusBadRequest, Message: "name taken by another user",
		Header: http.Header{"X-Error-Reason": {"Name taken"}}}
}

func (h *reasonHandler) WriteError(code int, err error) {
	var he tornago.HTTPError
	if errors.As(err, &he) && he.Header.Get("X-Error-Reason") != "" {
		reason := he.Header.Get("X-Error-Reason")
		_ = h.Write(map[string]any{"code": code, "reason": reason})
		_ = h.Finish()
		return
	}
	h.RequestHandler.WriteError(code, err)
}

func TestRecipeCustomReasonPhrase(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, func() tornago.Handler { return &reasonHandler{} }), tornago.Settings{})

	conn, err := net.Dial("tcp", ta.srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	raw, err := io.ReadAll(conn)
	require.NoError(t, err)
	status, _, _ := bytes.Cut(raw, []byte("\r\n"))
	assert.Equal(t, "HTTP/1.1 400 Bad Request", string(status), "net/http writes the standard phrase")

	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	require.NoError(t, err)
	assert.Equal(t, "Name taken", resp.Header.Get("X-Error-Reason"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.JSONEq(t, `{"code": 400, "reason": "Name taken"}`, string(body))
}

// themeFiles serves each theme's files from its own directory, chosen per
// request (Tornado: a StaticFileHandler subclass whose initialize or
// get_absolute_path computes the root): Prepare sets Path, and Get passes
// the file's group on.
type themeFiles struct {
	tornago.StaticFileHandler
	themes string
}

func (h *themeFiles) Prepare() error {
	theme := h.PathArgs()[0]
	if theme != "dark" && theme != "light" {
		return tornago.HTTPError{Code: http.StatusNotFound}
	}
	h.Path = filepath.Join(h.themes, theme)
	return nil
}

func (h *themeFiles) Get(args ...string) error { return h.StaticFileHandler.Get(args[1]) }

func TestRecipeStaticRootPerRequestAndContentTypes(t *testing.T) {
	t.Parallel()
	themes := t.TempDir()
	writeFiles(t, themes, map[string]string{
		"dark/site.css":             "dark",
		"light/site.css":            "light",
		"light/app.tornagomanifest": "{}",
	})
	// Tornado: mimetypes.add_type("application/manifest+json", ".webmanifest")
	require.NoError(t, mime.AddExtensionType(".tornagomanifest", "application/manifest+json"))
	ta := newTestApp(t, route(`/themes/([a-z]+)/(.+)`, func() tornago.Handler {
		return &themeFiles{themes: themes}
	}), tornago.Settings{})
	for theme, want := range map[string]string{"dark": "dark", "light": "light"} {
		resp := ta.get("/themes/" + theme + "/site.css")
		assert.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, want, resp.Body)
		assert.Equal(t, "text/css; charset=utf-8", resp.Header.Get("Content-Type"))
	}
	assert.Equal(t, 404, ta.get("/themes/other/site.css").StatusCode)
	assert.Equal(t, 404, ta.get("/themes/dark/app.tornagomanifest").StatusCode)
	assert.Equal(t, "application/manifest+json", ta.get("/themes/light/app.tornagomanifest").Header.Get("Content-Type"))
}

// orderedJSON is a JSON object whose keys keep their order, for clients
// that apply keys in order (encoding/json sorts a map's keys; Python's
// json.dumps keeps a dict's insertion order).
type orderedJSON struct {
	keys   []string
	values map[string]any
}

func (o *orderedJSON) Set(k string, v any) {
	if _, ok := o.values[k]; !ok {
		o.keys = append(o.keys, k)
	}
	if o.values == nil {
		o.values = map[string]any{}
	}
	o.values[k] = v
}

func (o *orderedJSON) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		vb, err := json.Marshal(o.values[k])
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k, err)
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func TestRecipeJSONKeyOrder(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, []tornago.Route{
		{Pattern: `/map`, Handler: fn(func(h *funcHandler, _ ...string) error {
			return h.Write(map[string]any{"zeta": 1, "alpha": 2})
		})},
		{Pattern: `/struct`, Handler: fn(func(h *funcHandler, _ ...string) error {
			return h.Write(struct {
				Zeta  int `json:"zeta"`
				Alpha int `json:"alpha"`
			}{1, 2})
		})},
		{Pattern: `/ordered`, Handler: fn(func(h *funcHandler, _ ...string) error {
			o := &orderedJSON{}
			o.Set("zeta", 1)
			o.Set("alpha", 2)
			return h.Write(o)
		})},
	}, tornago.Settings{})
	assert.Equal(t, `{"alpha":2,"zeta":1}`, strings.TrimSpace(ta.get("/map").Body), "a map's keys are sorted")
	assert.Equal(t, `{"zeta":1,"alpha":2}`, strings.TrimSpace(ta.get("/struct").Body))
	assert.Equal(t, `{"zeta":1,"alpha":2}`, strings.TrimSpace(ta.get("/ordered").Body))
}
