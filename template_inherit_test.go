package tornago_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

// layoutFiles are a layout, an include and pages extending the layout, as a
// Tornado app's base.html, nav.html, index.html and login.html.
var layoutFiles = map[string]string{
	"base.html":    `<title>{{block "title" .}}Site{{end}}</title>{{template "nav.html" .}}<main>{{block "main" .}}empty{{end}}</main>`,
	"nav.html":     `<nav>{{.User}}</nav>`,
	"index.html":   `{{template "base.html" .}}{{define "title"}}Home{{end}}{{define "main"}}index of {{.User}}{{end}}`,
	"login.html":   `{{template "base.html" .}}{{define "title"}}Sign in{{end}}{{define "main"}}<form>login</form>{{end}}`,
	"plain.html":   `{{template "base.html" .}}`,
	"section.html": `{{template "base.html" .}}{{define "main"}}<section>{{block "body" .}}{{end}}</section>{{end}}`,
	"about.html":   `{{template "section.html" .}}{{define "body"}}about{{end}}`,
	"macros.html":  `{{define "button"}}<button>{{.}}</button>{{end}}`,
	"tools.html":   `{{template "macros.html"}}{{template "button" "Go"}}`,
}

// renderPage renders the page named by the path with a fixed user.
type renderPage struct{ tornago.RequestHandler }

func (h *renderPage) Get(args ...string) error {
	return h.Render(args[0], map[string]string{"User": "ann"})
}

func layoutApp(t *testing.T, debug bool) (*testApp, string) {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, layoutFiles)
	return newTestApp(t, route(`/(.+)`, func() tornago.Handler { return &renderPage{} }),
		tornago.Settings{TemplatePath: dir, Debug: debug}), dir
}

func TestTemplatePagesExtendOneLayout(t *testing.T) {
	t.Parallel()
	for _, debug := range []bool{false, true} {
		ta, _ := layoutApp(t, debug)
		for page, want := range map[string]string{
			"index.html": `<title>Home</title><nav>ann</nav><main>index of ann</main>`,
			"login.html": `<title>Sign in</title><nav>ann</nav><main><form>login</form></main>`,
			"plain.html": `<title>Site</title><nav>ann</nav><main>empty</main>`,
			"base.html":  `<title>Site</title><nav>ann</nav><main>empty</main>`,
			"about.html": `<title>Site</title><nav>ann</nav><main><section>about</section></main>`,
			"tools.html": `<button>Go</button>`,
		} {
			resp := ta.get("/" + page)
			assert.Equal(t, 200, resp.StatusCode, "%s debug=%v: %s", page, debug, ta.logs.String())
			assert.Equal(t, want, resp.Body, "%s debug=%v", page, debug)
		}
	}
}

func TestTemplateErrorsFailNewApplication(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, text, want string
	}{
		{"syntax", "admin/broken.html", "<p>\n{{if .X}}\n{{.Y}\n", "admin/broken.html:3"},
		{"unknown function", "f.html", "\n{{url_escape .X}}", `f.html:2: function "url_escape" not defined`},
		{"escaping", "esc.html", "<p>\n{{if .X}}<a href=\"{{end}}x", "esc.html:2"},
		{"missing block in a page", "page.html", `{{template "nosuch" .}}`, `no such template "nosuch"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeFiles(t, dir, layoutFiles)
			writeFiles(t, dir, map[string]string{tt.file: tt.text})
			_, err := tornago.NewApplication(nil, tornago.Settings{TemplatePath: dir})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), dir)
		})
	}

	// A layout may leave a block to the pages that name it.
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"layout.html": `<main>{{template "main" .}}</main>`,
		"page.html":   `{{template "layout.html" .}}{{define "main"}}page{{end}}`,
	})
	_, err := tornago.NewApplication(nil, tornago.Settings{TemplatePath: dir})
	require.NoError(t, err)
}

func TestTemplateDebugReparsesOnlyTheRenderedPage(t *testing.T) {
	t.Parallel()
	ta, dir := layoutApp(t, true)
	writeFiles(t, dir, map[string]string{"other.html": "{{if}}"})
	assert.Equal(t, 200, ta.get("/index.html").StatusCode, "a broken unrelated file")
	writeFiles(t, dir, map[string]string{"login.html": `{{template "base.html" .}}{{define "main"}}v2{{end}}`})
	assert.Equal(t, `<title>Site</title><nav>ann</nav><main>v2</main>`, ta.get("/login.html").Body)
	assert.Equal(t, 500, ta.get("/other.html").StatusCode)
	assert.Contains(t, ta.logs.String(), "other.html:1")
	assert.Equal(t, 500, ta.get("/missing.html").StatusCode)
	assert.Equal(t, 500, ta.get("/"+filepath.Base(dir)+"/../base.html").StatusCode)
}
