package tornago

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"sync"
)

// Templates: every file under Settings.TemplatePath (dot files and
// directories skipped) is an html/template named by its slash-separated
// path relative to TemplatePath ("index.html", "admin/users.html"), and
// each one is rendered from its own template set: the file plus, parsed
// before it, every file it names in {{template "file.html" .}}, and theirs
// (see template_load.go). That gives Tornado's {% extends %} and
// {% include %}: a layout declares blocks with defaults,
//
//	base.html:   <title>{{block "title" .}}Site{{end}}</title>{{block "main" .}}{{end}}
//
// and a page extends it by naming it and overriding blocks with {{define}},
//
//	index.html:  {{template "base.html" .}}{{define "title"}}Home{{end}}{{define "main"}}...{{end}}
//
// so index.html and login.html can both define "main" without seeing each
// other. A {{define}} in a file the page does not name is not visible to
// it: name shared macro files too ({{template "macros.html"}} renders
// nothing and brings their definitions). docs/porting.md has the full
// translation table.
//
// NewApplication parses and checks every file (syntax, and html/template's
// escaping rules) and fails with each broken file's name and line. In Debug
// mode the rendered page's files are read and parsed again for every
// render. A map key the template uses but the data lacks is an error
// (missingkey=error), as an undefined name is in a Tornado template.
//
// Besides html/template's built-ins, templates can call Tornado's namespace
// functions, bound to the request being served:
//
//	{{static_url "app.css"}}        StaticURL, with the content-hash version
//	{{reverse_url "user" .ID}}      Application.ReverseURL
//	{{xsrf_form_html}}              XSRFFormHTML
//	{{current_user}}                CurrentUser

// templateCache holds an Application's parsed pages, each with a pool of
// request-bindable clones of its set.
type templateCache struct {
	dir   string
	debug bool
	pages map[string]*pageTemplates
}

// pageTemplates is one page's parsed set, never executed itself, and its
// pool of clones.
type pageTemplates struct {
	set  *template.Template
	pool sync.Pool // of *boundTemplates
}

// boundTemplates is a clone of a page's set whose functions call h; it
// serves one render at a time, so escaping (done by html/template on first
// execution) is paid once per pooled clone rather than per request.
type boundTemplates struct {
	set *template.Template
	h   *RequestHandler
}

// errTemplateUnbound is what the template functions return when called
// outside a request: only in NewApplication's check, which expects errors.
var errTemplateUnbound = errors.New("tornago: template function called outside a request")

// templateFuncs returns the template functions calling b's handler; with b
// nil they are the parse-time stand-ins, which fail.
func templateFuncs(b *boundTemplates) template.FuncMap {
	handler := func() (*RequestHandler, error) {
		if b == nil {
			return nil, errTemplateUnbound
		}
		return b.h, nil
	}
	return template.FuncMap{
		"static_url": func(path string) (string, error) {
			h, err := handler()
			if err != nil {
				return "", err
			}
			return h.StaticURL(path)
		},
		"reverse_url": func(name string, args ...any) (string, error) {
			h, err := handler()
			if err != nil {
				return "", err
			}
			return h.app.ReverseURL(name, args...)
		},
		"xsrf_form_html": func() (template.HTML, error) {
			h, err := handler()
			if err != nil {
				return "", err
			}
			return h.XSRFFormHTML(), nil
		},
		"current_user": func() (any, error) {
			h, err := handler()
			if err != nil {
				return nil, err
			}
			return h.CurrentUser()
		},
	}
}

// newTemplateCache loads and checks every template under dir.
func newTemplateCache(dir string, debug bool) (*templateCache, error) {
	sets, err := loadTemplates(dir)
	if err != nil {
		return nil, err
	}
	c := &templateCache{dir: dir, debug: debug, pages: map[string]*pageTemplates{}}
	for name, set := range sets {
		p := &pageTemplates{set: set}
		p.pool.New = func() any {
			b := &boundTemplates{}
			// Cloning never fails here: p.set itself is never executed.
			b.set = template.Must(p.set.Clone()).Funcs(templateFuncs(b))
			return b
		}
		c.pages[name] = p
	}
	return c, nil
}

// acquire returns page name's template set bound to h, nil if there is no
// such page; release it after executing.
func (c *templateCache) acquire(name string, h *RequestHandler) (*boundTemplates, error) {
	if c.debug {
		set, err := newTemplateLoader(c.dir).page(name)
		if err != nil || set == nil {
			return nil, err
		}
		b := &boundTemplates{h: h}
		b.set = set.Funcs(templateFuncs(b))
		return b, nil
	}
	p := c.pages[name]
	if p == nil {
		return nil, nil
	}
	b := p.pool.Get().(*boundTemplates)
	b.h = h
	return b, nil
}

func (c *templateCache) release(name string, b *boundTemplates) {
	b.h = nil
	if !c.debug {
		c.pages[name].pool.Put(b)
	}
}

// RenderString executes the template name (a path relative to
// Settings.TemplatePath) with data as its dot and returns the output. The
// template runs in its own set: the file and the files it names with
// {{template "file.html" .}}, so a page extends a layout by naming it and
// overriding its {{block}}s with {{define}} (Tornado's {% extends %}); see
// docs/porting.md for the translation of Tornado's template syntax.
func (h *RequestHandler) RenderString(name string, data any) ([]byte, error) {
	if h.app.templates == nil {
		return nil, fmt.Errorf("%w: TemplatePath (for Render)", ErrMissingSetting)
	}
	b, err := h.app.templates.acquire(name, h)
	if err != nil {
		return nil, fmt.Errorf("tornago: loading template %s: %w", name, err)
	}
	if b == nil {
		return nil, fmt.Errorf("tornago: template %q not found in %s", name, h.app.templates.dir)
	}
	defer h.app.templates.release(name, b)
	var buf bytes.Buffer
	if err := b.set.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, fmt.Errorf("tornago: rendering %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// Render executes the template name with data as its dot (see
// RenderString), writes the output and finishes the response, as Tornado's
// render. On an error nothing is written, so returning it answers 500.
func (h *RequestHandler) Render(name string, data any) error {
	if h.finished {
		return fmt.Errorf("%w: cannot Render after Finish", ErrFinished)
	}
	out, err := h.RenderString(name, data)
	if err != nil {
		return err
	}
	h.buf = append(h.buf, out...)
	return h.Finish()
}
