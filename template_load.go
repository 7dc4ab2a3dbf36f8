package tornago

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/template/parse"
)

// A page's template set is the page plus, recursively, every file it names
// in {{template "file.html" ...}}, parsed dependencies first and the page
// last. A {{define}} parsed later replaces an earlier one, so a page's
// blocks override its layout's, as Tornado's {% extends %} resolves them,
// and two pages filling the same block name never see each other.

// templateFile is one file under TemplatePath, read and parsed alone.
type templateFile struct {
	text string
	refs []string // names in {{template "name"}}, in order of appearance
}

// templateLoader reads and parses template files on demand, each once.
type templateLoader struct {
	fsys  fs.FS
	files map[string]*templateFile // nil value: not a template file
}

func newTemplateLoader(dir string) *templateLoader {
	return &templateLoader{fsys: os.DirFS(dir), files: map[string]*templateFile{}}
}

// isTemplateName reports whether a {{template}} name or a Render name may
// be a file: a valid slash path with no dot-file segment, which are
// skipped as they are by the start-up walk.
func isTemplateName(name string) bool {
	if !fs.ValidPath(name) || name == "." {
		return false
	}
	for seg := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(seg, ".") {
			return false
		}
	}
	return true
}

// file returns the parsed file name, nil (and no error) if there is no
// regular file of that name, as for a {{template}} name that is a
// {{define}} rather than a file.
func (l *templateLoader) file(name string) (*templateFile, error) {
	if f, ok := l.files[name]; ok {
		return f, nil
	}
	l.files[name] = nil
	if !isTemplateName(name) {
		return nil, nil
	}
	info, err := fs.Stat(l.fsys, name)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !info.Mode().IsRegular() {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	b, err := fs.ReadFile(l.fsys, name)
	if err != nil {
		return nil, err
	}
	// Parsed alone to report syntax errors as "name:line" and to find the
	// templates it names.
	t, err := newTemplateSet().New(name).Parse(string(b))
	if err != nil {
		return nil, err
	}
	f := &templateFile{text: string(b)}
	seen := map[string]bool{}
	for _, d := range t.Templates() {
		if d.Tree != nil {
			collectTemplateRefs(d.Tree.Root, seen, &f.refs)
		}
	}
	l.files[name] = f
	return f, nil
}

// collectTemplateRefs appends to refs the names of the {{template}} actions
// under n not yet in seen.
func collectTemplateRefs(n parse.Node, seen map[string]bool, refs *[]string) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				collectTemplateRefs(c, seen, refs)
			}
		}
	case *parse.TemplateNode:
		if !seen[n.Name] {
			seen[n.Name] = true
			*refs = append(*refs, n.Name)
		}
	case *parse.IfNode:
		collectTemplateRefs(n.List, seen, refs)
		collectTemplateRefs(n.ElseList, seen, refs)
	case *parse.RangeNode:
		collectTemplateRefs(n.List, seen, refs)
		collectTemplateRefs(n.ElseList, seen, refs)
	case *parse.WithNode:
		collectTemplateRefs(n.List, seen, refs)
		collectTemplateRefs(n.ElseList, seen, refs)
	}
}

// order returns name and the files it names, recursively, dependencies
// first (each once, so a file may name itself or form a cycle, which
// html/template then runs as recursion); nil if name is not a file.
func (l *templateLoader) order(name string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	var visit func(string) error
	visit = func(n string) error {
		if seen[n] {
			return nil
		}
		seen[n] = true
		f, err := l.file(n)
		if err != nil || f == nil {
			return err
		}
		for _, r := range f.refs {
			if err := visit(r); err != nil {
				return err
			}
		}
		out = append(out, n)
		return nil
	}
	return out, visit(name)
}

// newTemplateSet is an empty set with tornago's options and the parse-time
// stand-ins of its functions.
func newTemplateSet() *template.Template {
	return template.New("").Option("missingkey=error").Funcs(templateFuncs(nil))
}

// page returns name's template set (see the comment at the top of this
// file), nil if there is no such file.
func (l *templateLoader) page(name string) (*template.Template, error) {
	files, err := l.order(name)
	if err != nil || len(files) == 0 {
		return nil, err
	}
	set := newTemplateSet()
	for _, n := range files {
		if _, err := set.New(n).Parse(l.files[n].text); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// loadTemplates parses every file under dir (dot files and directories
// skipped, symbolic links followed) into its own page set and checks each: syntax errors and
// html/template's escaping errors (a {{if}} whose branches end in
// different HTML contexts, an action inside an unquoted attribute name,
// ...) are returned, all of them, with file and line, instead of surfacing
// as a 500 when the page is first rendered. A file that other files name
// (a layout or an include) may leave blocks to them: a {{template}} of a
// name it does not define is an error only in a page nobody names.
func loadTemplates(dir string) (map[string]*template.Template, error) {
	l := newTemplateLoader(dir)
	var names []string
	err := fs.WalkDir(l.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() { // a symbolic link counts if it leads to a file (see page)
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tornago: loading templates from %s: %w", dir, err)
	}
	pages := map[string]*template.Template{}
	var errs []error
	for _, n := range names {
		set, err := l.page(n)
		if err != nil {
			errs = append(errs, err)
		} else if set != nil {
			pages[n] = set
		}
	}
	named := map[string]bool{}
	for _, f := range l.files {
		if f != nil {
			for _, r := range f.refs {
				named[r] = true
			}
		}
	}
	for _, n := range names {
		if set := pages[n]; set != nil {
			if err := checkTemplateSet(set, n, named[n]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("tornago: loading templates from %s: %w", dir, err)
	}
	return pages, nil
}

// checkTemplateSet runs html/template's escaper over name's set by
// executing a clone with no data and functions that fail: escaping is done
// in full before execution starts, and its errors are *template.Error,
// unlike the execution errors this dry run is bound to hit. For a
// layout or include (partial), a missing block is left to its pages.
func checkTemplateSet(set *template.Template, name string, partial bool) error {
	c, err := set.Clone()
	if err != nil {
		return err
	}
	err = c.ExecuteTemplate(io.Discard, name, nil)
	var escErr *template.Error
	if !errors.As(err, &escErr) || partial && escErr.ErrorCode == template.ErrNoSuchTemplate {
		return nil
	}
	return err
}
