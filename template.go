package tornago

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Templates: every file under Settings.TemplatePath (dot files and
// directories skipped) is parsed with html/template into one set, named by
// its slash-separated path relative to TemplatePath ("index.html",
// "admin/users.html"), so templates can include each other with
// {{template "base.html" .}} and share {{define}} blocks (whose names must
// then be unique across files). The set is parsed on first use and kept;
// in Debug mode it is parsed again for every render. A map key the template
// uses but the data lacks is an error (missingkey=error), as an undefined
// name is in a Tornado template.
//
// Besides html/template's built-ins, templates can call Tornado's namespace
// functions, bound to the request being served:
//
//	{{static_url "app.css"}}        StaticURL, with the content-hash version
//	{{reverse_url "user" .ID}}      Application.ReverseURL
//	{{xsrf_form_html}}              XSRFFormHTML
//	{{current_user}}                CurrentUser

// templateCache holds an Application's parsed templates and a pool of
// request-bindable clones of them.
type templateCache struct {
	dir   string
	debug bool

	mu   sync.Mutex
	base *template.Template
	pool *sync.Pool // of *boundTemplates cloned from base
}

// boundTemplates is a clone of the set whose functions call h; it serves
// one render at a time, so escaping (done by html/template on first
// execution) is paid once per pooled clone rather than per request.
type boundTemplates struct {
	set *template.Template
	h   *RequestHandler
}

// templateFuncs returns the template functions calling b's handler; b is
// nil for the parse-time stubs, which never run.
func templateFuncs(b *boundTemplates) template.FuncMap {
	return template.FuncMap{
		"static_url": func(path string) (string, error) { return b.h.StaticURL(path) },
		"reverse_url": func(name string, args ...any) (string, error) {
			return b.h.app.ReverseURL(name, args...)
		},
		"xsrf_form_html": func() template.HTML { return b.h.XSRFFormHTML() },
		"current_user":   func() (any, error) { return b.h.CurrentUser() },
	}
}

// acquire returns a clone of the template set bound to h; release it after
// executing.
func (c *templateCache) acquire(h *RequestHandler) (*boundTemplates, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.base == nil || c.debug {
		base, err := parseTemplateDir(c.dir)
		if err != nil {
			return nil, err
		}
		c.base = base
		pool := &sync.Pool{}
		pool.New = func() any {
			b := &boundTemplates{}
			// Cloning never fails here: base itself is never executed.
			b.set = template.Must(base.Clone()).Funcs(templateFuncs(b))
			return b
		}
		c.pool = pool
	}
	b := c.pool.Get().(*boundTemplates)
	b.h = h
	return b, nil
}

func (c *templateCache) release(b *boundTemplates) {
	b.h = nil
	c.mu.Lock()
	pool := c.pool
	c.mu.Unlock()
	if !c.debug {
		pool.Put(b)
	}
}

// parseTemplateDir parses every file under dir into one set.
func parseTemplateDir(dir string) (*template.Template, error) {
	set := template.New("").Option("missingkey=error").Funcs(templateFuncs(nil))
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && path != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		_, err = set.New(filepath.ToSlash(rel)).Parse(string(b))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tornago: loading templates from %s: %w", dir, err)
	}
	return set, nil
}

// RenderString executes the template name (a path relative to
// Settings.TemplatePath) with data as its dot and returns the output.
func (h *RequestHandler) RenderString(name string, data any) ([]byte, error) {
	if h.app.templates == nil {
		return nil, fmt.Errorf("%w: TemplatePath (for Render)", ErrMissingSetting)
	}
	b, err := h.app.templates.acquire(h)
	if err != nil {
		return nil, err
	}
	defer h.app.templates.release(b)
	if b.set.Lookup(name) == nil {
		return nil, fmt.Errorf("tornago: template %q not found in %s", name, h.app.templates.dir)
	}
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
