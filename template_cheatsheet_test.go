package tornago_test

import (
	"html/template"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

// tornadoToGo is the translation table of docs/porting.md ("Templates:
// Tornado syntax to html/template"), each row rendered below.
var tornadoToGo = []struct {
	tornado, goTemplate, want string
}{
	{`{{ name }}`, `{{.Name}}`, `&lt;b&gt; &amp; co`},
	{`{% raw html %}`, `{{.HTML}}`, `<i>trusted</i>`},
	{`{% autoescape None %}{{ html }}`, `{{.HTML}}`, `<i>trusted</i>`},
	{`{% if n > 1 %}many{% elif n == 1 %}one{% else %}none{% end %}`,
		`{{if gt .N 1}}many{{else if eq .N 1}}one{{else}}none{{end}}`, `many`},
	{`{% for item in items %}{{ item }},{% end %}`, `{{range .Items}}{{.}},{{end}}`, `a,b,`},
	{`{% for i, item in enumerate(items) %}{{ i }}={{ item }} {% end %}`,
		`{{range $i, $item := .Items}}{{$i}}={{$item}} {{end}}`, `0=a 1=b `},
	{`{% set total = len(items) %}{{ total }}`, `{{$total := len .Items}}{{$total}}`, `2`},
	{`{# note #}{% comment note %}`, `{{/* note */}}`, ``},
	{`{{! literal }}`, `{{"{{"}} literal }}`, `{{ literal }}`},
	{`{{ static_url("app.css") }}`, `{{static_url "app.css"}}`, `/static/app.css\?v=[0-9a-f]{128}`},
	{`{% module xsrf_form_html() %}`, `{{xsrf_form_html}}`, `<input type="hidden" name="_xsrf" value="2\|[0-9a-f]{8}\|[0-9a-f]{32}\|\d+"/>`},
	{`{{ reverse_url("user", 42) }}`, `{{reverse_url "user" 42}}`, `/user/42`},
	{`{{ current_user }}`, `{{current_user}}`, `ann`},
	{`{{ url_escape(name) }}`, `{{urlquery .Name}}`, `%3Cb%3E&#43;%26&#43;co`},
	{`<a href="/q?s={{ url_escape(name) }}">`, `<a href="/q?s={{.Name}}">`, `<a href="/q\?s=%3cb%3e%20%26%20co">`},
	{`<script>var items = {% raw json_encode(items) %};</script>`, `<script>var items = {{.Items}};</script>`,
		`<script>var items = \["a","b"\];</script>`},
	{`{% include "part.html" %}`, `{{template "part.html" .}}`, `\[part of ann\]`},
	{`{% extends "layout.html" %}{% block main %}mine{% end %}`,
		`{{template "layout.html" .}}{{define "main"}}mine{{end}}`, `<main>mine</main>`},
	{`{% extends "layout.html" %}`, `{{template "layout.html" .}}`, `<main>default</main>`},
}

func TestTemplateTornadoCheatSheet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tdir, sdir := filepath.Join(dir, "templates"), filepath.Join(dir, "static")
	files := map[string]string{
		"layout.html": `<main>{{block "main" .}}default{{end}}</main>`,
		"part.html":   `[part of {{.User}}]`,
	}
	for i, row := range tornadoToGo {
		files["row"+strconv.Itoa(i)+".html"] = row.goTemplate
	}
	writeFiles(t, tdir, files)
	writeFiles(t, sdir, map[string]string{"app.css": "a{}"})
	data := map[string]any{
		"Name":  "<b> & co",
		"HTML":  template.HTML("<i>trusted</i>"),
		"N":     2,
		"Items": []string{"a", "b"},
		"User":  "ann",
	}
	ta := newTestApp(t, []tornago.Route{
		{Pattern: `/row/(\d+)`, Handler: fn(func(h *funcHandler, args ...string) error {
			h.SetCurrentUser("ann")
			return h.Render("row"+args[0]+".html", data)
		})},
		{Pattern: `/user/(\d+)`, Name: "user", Handler: fn(func(h *funcHandler, _ ...string) error { return nil })},
	}, tornago.Settings{TemplatePath: tdir, StaticPath: sdir})
	for i, row := range tornadoToGo {
		resp := ta.get("/row/" + strconv.Itoa(i))
		require.Equal(t, 200, resp.StatusCode, "%s: %s", row.tornado, ta.logs.String())
		assert.Regexp(t, regexp.MustCompile("^"+row.want+"$"), resp.Body, "%s -> %s", row.tornado, row.goTemplate)
	}
}
