package tornago

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// ArgOption changes how GetArgument and its relatives read an argument; the
// options are Tornado's default and strip parameters.
type ArgOption func(*argOptions)

type argOptions struct {
	def     string
	hasDef  bool
	noStrip bool
}

// Default makes a missing argument yield v instead of a 400 error (Tornado's
// get_argument(name, default)).
func Default(v string) ArgOption {
	return func(o *argOptions) { o.def, o.hasDef = v, true }
}

// NoStrip keeps leading and trailing white space (Tornado's strip=False),
// e.g. for passwords. Control characters are still replaced by spaces.
func NoStrip() ArgOption {
	return func(o *argOptions) { o.noStrip = true }
}

// multipartMemory is how much of a multipart body is kept in memory; the
// rest of the files go to temporary files, which net/http removes after the
// request.
const multipartMemory = 32 << 20

// GetArgument returns the last value of the query or form-body argument
// name, with Tornado's clean-up: control characters other than \t \n \v \f
// \r become spaces, and white space is stripped (unless NoStrip). A missing
// argument is an HTTPError 400 "Missing argument NAME" (wrapping a
// *MissingArgumentError), unless Default is given; a value that is not
// valid UTF-8 is an HTTPError 400. Return the error from the verb method to
// answer the client:
//
//	name, err := h.GetArgument("name")
//	if err != nil {
//		return err
//	}
func (h *RequestHandler) GetArgument(name string, opts ...ArgOption) (string, error) {
	return h.lastArgument(name, opts, h.queryArgs(), h.bodyArgs())
}

// GetArguments returns all values of the argument name, query values first,
// then body values, cleaned as GetArgument does; empty when there are none.
func (h *RequestHandler) GetArguments(name string, opts ...ArgOption) ([]string, error) {
	return cleanArguments(name, opts, h.queryArgs(), h.bodyArgs())
}

// GetQueryArgument is GetArgument restricted to the URL's query string.
func (h *RequestHandler) GetQueryArgument(name string, opts ...ArgOption) (string, error) {
	return h.lastArgument(name, opts, h.queryArgs())
}

// GetQueryArguments is GetArguments restricted to the URL's query string.
func (h *RequestHandler) GetQueryArguments(name string, opts ...ArgOption) ([]string, error) {
	return cleanArguments(name, opts, h.queryArgs())
}

// GetBodyArgument is GetArgument restricted to the form body
// (application/x-www-form-urlencoded or multipart/form-data).
func (h *RequestHandler) GetBodyArgument(name string, opts ...ArgOption) (string, error) {
	return h.lastArgument(name, opts, h.bodyArgs())
}

// GetBodyArguments is GetArguments restricted to the form body.
func (h *RequestHandler) GetBodyArguments(name string, opts ...ArgOption) ([]string, error) {
	return cleanArguments(name, opts, h.bodyArgs())
}

// Files returns the files uploaded in the multipart form field name
// (Tornado's request.files[name]); nil when there are none.
func (h *RequestHandler) Files(name string) []*multipart.FileHeader {
	if h.r.MultipartForm == nil {
		return nil
	}
	return h.r.MultipartForm.File[name]
}

func (h *RequestHandler) lastArgument(name string, opts []ArgOption, sources ...url.Values) (string, error) {
	values, err := cleanArguments(name, opts, sources...)
	if err != nil {
		return "", err
	}
	if len(values) == 0 {
		o := applyArgOptions(opts)
		if o.hasDef {
			return o.def, nil
		}
		return "", missingArgument(name)
	}
	return values[len(values)-1], nil
}

func applyArgOptions(opts []ArgOption) argOptions {
	var o argOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// cleanArguments collects name's values from sources, in order, with
// Tornado's _get_arguments clean-up.
func cleanArguments(name string, opts []ArgOption, sources ...url.Values) ([]string, error) {
	o := applyArgOptions(opts)
	var out []string
	for _, src := range sources {
		for _, v := range src[name] {
			if !utf8.ValidString(v) {
				return nil, HTTPError{Code: http.StatusBadRequest,
					Message: fmt.Sprintf("Invalid unicode in %s: %q", name, truncate(v, 40))}
			}
			v = replaceControlChars(v)
			if !o.noStrip {
				v = strings.TrimSpace(v)
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// replaceControlChars replaces [\x00-\x08\x0e-\x1f] with spaces, as
// Tornado's _remove_control_chars_regex.
func replaceControlChars(s string) string {
	isCtl := func(c byte) bool { return c <= 0x08 || (c >= 0x0e && c <= 0x1f) }
	i := 0
	for i < len(s) && !isCtl(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if isCtl(b[i]) {
			b[i] = ' '
		}
	}
	return string(b)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// queryArgs is the parsed query string (bad pairs skipped, as Python's
// parse_qs does).
func (h *RequestHandler) queryArgs() url.Values {
	if h.query == nil {
		h.query, _ = url.ParseQuery(h.r.URL.RawQuery)
	}
	return h.query
}

// bodyArgs is the parsed form body; empty when the body is not a form.
func (h *RequestHandler) bodyArgs() url.Values {
	_ = h.parseBody() // an error was answered before the handler ran
	return h.body
}

// parseBody reads a form body once (Tornado parses it before prepare). Other
// bodies are left unread for the handler. Errors are 400 (Tornado's
// "Invalid body") or 413 (*http.MaxBytesError, body over MaxBodySize).
func (h *RequestHandler) parseBody() error {
	if h.bodyDone {
		return h.bodyError
	}
	h.bodyDone = true
	h.body = url.Values{}
	if h.r.Body == nil || h.r.Body == http.NoBody {
		return nil
	}
	ct, params, _ := mime.ParseMediaType(h.r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded":
		if h.r.Header.Get("Content-Encoding") != "" {
			h.bodyError = HTTPError{Code: http.StatusBadRequest,
				Message: "Invalid body: unsupported Content-Encoding " + h.r.Header.Get("Content-Encoding")}
			return h.bodyError
		}
		b, err := io.ReadAll(h.r.Body)
		if err != nil {
			h.bodyError = bodyError(err)
			return h.bodyError
		}
		h.body, _ = url.ParseQuery(string(b))
	case "multipart/form-data":
		if params["boundary"] == "" {
			h.bodyError = HTTPError{Code: http.StatusBadRequest, Message: "Invalid body: multipart boundary missing"}
			return h.bodyError
		}
		form, err := multipart.NewReader(h.r.Body, params["boundary"]).ReadForm(multipartMemory)
		if err != nil {
			h.bodyError = bodyError(err)
			return h.bodyError
		}
		h.r.MultipartForm = form // net/http removes its temporary files
		h.body = form.Value
	}
	return nil
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return HTTPError{Code: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("Content-Length too long (limit %d bytes)", mbe.Limit), Err: err}
	}
	return HTTPError{Code: http.StatusBadRequest, Message: "Invalid body: " + err.Error(), Err: err}
}
