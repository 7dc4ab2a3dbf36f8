package tornago_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

type page struct{ tornago.RequestHandler }

func (h *page) GetCurrentUser() (any, error) {
	name, ok := h.GetCookie("user")
	if !ok {
		return nil, nil
	}
	return name, nil
}

func (h *page) Get(args ...string) error {
	return h.Render(args[0], map[string]any{"Title": "<Hi & bye>", "ID": 42})
}

func templateApp(t *testing.T, debug bool) (*testApp, string) {
	dir := t.TempDir()
	tdir, sdir := filepath.Join(dir, "templates"), filepath.Join(dir, "static")
	writeFiles(t, tdir, map[string]string{
		"base.html":        `<title>{{.Title}}</title>{{block "content" .}}{{end}}`,
		"index.html":       `{{template "base.html" .}}{{define "content"}}<a href="{{reverse_url "user" .ID}}">{{with current_user}}{{.}}{{else}}anonymous{{end}}</a>{{end}}`,
		"admin/form.html":  `<link href="{{static_url "app.css"}}"><form method="post">{{xsrf_form_html}}</form>`,
		"broken.html":      `{{.Missing.Field}}`,
		".hidden/x.html":   `{{`,
		"notes/readme.txt": `plain {{.ID}}`,
	})
	writeFiles(t, sdir, map[string]string{"app.css": "a{}"})
	return newTestApp(t, []tornago.Route{
		{Pattern: `/render/(.+)`, Handler: func() tornago.Handler { return &page{} }},
		{Pattern: `/user/(\d+)`, Name: "user", Handler: func() tornago.Handler { return &page{} }},
	}, tornago.Settings{TemplatePath: tdir, StaticPath: sdir, Debug: debug}), tdir
}

func TestRender(t *testing.T) {
	t.Parallel()
	ta, _ := templateApp(t, false)
	resp := ta.get("/render/index.html", "Cookie", "user=ann")
	require.Equal(t, 200, resp.StatusCode, resp.Body)
	assert.Equal(t, `<title>&lt;Hi &amp; bye&gt;</title><a href="/user/42">ann</a>`, resp.Body)
	assert.Equal(t, "text/html; charset=UTF-8", resp.Header.Get("Content-Type"))
	assert.NotEmpty(t, resp.Header.Get("Etag"))
	assert.Equal(t, `<title>&lt;Hi &amp; bye&gt;</title><a href="/user/42">anonymous</a>`,
		ta.get("/render/index.html").Body, "pooled templates are bound to each request")

	form := ta.get("/render/admin/form.html")
	require.Equal(t, 200, form.StatusCode, form.Body)
	assert.Regexp(t, regexp.MustCompile(`^<link href="/static/app.css\?v=[0-9a-f]{128}"><form method="post">`+
		`<input type="hidden" name="_xsrf" value="2\|[0-9a-f]{8}\|[0-9a-f]{32}\|\d+"/></form>$`), form.Body)
	assert.NotEmpty(t, cookieFrom(t, form, "_xsrf").Value)

	assert.Equal(t, "plain 42", ta.get("/render/notes/readme.txt").Body)
	assert.Equal(t, 500, ta.get("/render/broken.html").StatusCode)
	assert.Equal(t, 500, ta.get("/render/missing.html").StatusCode)
	assert.Contains(t, ta.logs.String(), `template \"missing.html\" not found`)
}

func TestRenderConcurrent(t *testing.T) {
	t.Parallel()
	ta, _ := templateApp(t, false)
	done := make(chan string)
	for _, u := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		go func() {
			resp := ta.get("/render/index.html", "Cookie", "user="+u)
			done <- u + ":" + resp.Body
		}()
	}
	for range 8 {
		got := <-done
		u := got[:1]
		assert.Equal(t, u+`:<title>&lt;Hi &amp; bye&gt;</title><a href="/user/42">`+u+`</a>`, got)
	}
}

func TestRenderDebugReloads(t *testing.T) {
	t.Parallel()
	for _, debug := range []bool{false, true} {
		ta, dir := templateApp(t, debug)
		require.Equal(t, 200, ta.get("/render/index.html").StatusCode)
		writeFiles(t, dir, map[string]string{"live.html": "v1"})
		if !debug {
			assert.Equal(t, 500, ta.get("/render/live.html").StatusCode, "added after NewApplication")
		} else {
			assert.Equal(t, "v1", ta.get("/render/live.html").Body)
			writeFiles(t, dir, map[string]string{"live.html": "v2"})
			assert.Equal(t, "v2", ta.get("/render/live.html").Body)
		}
	}
}

func TestRenderNeedsTemplatePath(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		err := h.Render("x.html", nil)
		assert.ErrorIs(t, err, tornago.ErrMissingSetting)
		return err
	})), tornago.Settings{})
	assert.Equal(t, 500, ta.get("/").StatusCode)
}

func writeFile(dir, name, content string) error {
	return os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
}
