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
	if err := h.parseArguments(); err != nil {
		return "", err
	}
	return lastArgument(name, opts, h.query, h.body)
}

// LookupArgument is GetArgument for Tornado's get_argument(name, None):
// ok reports whether the argument was sent at all, so that a missing
// argument (None) can be told from an empty one (""), as os.LookupEnv
// does for variables. err is only a malformed request (a 400 to return);
// a Default option is ignored.
func (h *RequestHandler) LookupArgument(name string, opts ...ArgOption) (value string, ok bool, err error) {
	if err := h.parseArguments(); err != nil {
		return "", false, err
	}
	values, err := cleanArguments(name, opts, h.query, h.body)
	if err != nil || len(values) == 0 {
		return "", false, err
	}
	return values[len(values)-1], true, nil
}

// GetArguments returns all values of the argument name, query values first,
// then body values, cleaned as GetArgument does; empty when there are none.
func (h *RequestHandler) GetArguments(name string, opts ...ArgOption) ([]string, error) {
	if err := h.parseArguments(); err != nil {
		return nil, err
	}
	return cleanArguments(name, opts, h.query, h.body)
}

// GetQueryArgument is GetArgument restricted to the URL's query string.
func (h *RequestHandler) GetQueryArgument(name string, opts ...ArgOption) (string, error) {
	if err := h.parseArguments(); err != nil {
		return "", err
	}
	return lastArgument(name, opts, h.query)
}

// GetQueryArguments is GetArguments restricted to the URL's query string.
func (h *RequestHandler) GetQueryArguments(name string, opts ...ArgOption) ([]string, error) {
	if err := h.parseArguments(); err != nil {
		return nil, err
	}
	return cleanArguments(name, opts, h.query)
}

// GetBodyArgument is GetArgument restricted to the form body
// (application/x-www-form-urlencoded or multipart/form-data).
func (h *RequestHandler) GetBodyArgument(name string, opts ...ArgOption) (string, error) {
	if err := h.parseArguments(); err != nil {
		return "", err
	}
	return lastArgument(name, opts, h.body)
}

// GetBodyArguments is GetArguments restricted to the form body.
func (h *RequestHandler) GetBodyArguments(name string, opts ...ArgOption) ([]string, error) {
	if err := h.parseArguments(); err != nil {
		return nil, err
	}
	return cleanArguments(name, opts, h.body)
}

// Files returns the files uploaded in the multipart form field name
// (Tornado's request.files[name]); nil when there are none. Files larger
// than Settings.MaxFormMemory are kept in temporary files, which are
// removed when the request ends (for a WebSocket, when the handshake ends):
// copy what must outlive it.
func (h *RequestHandler) Files(name string) []*multipart.FileHeader {
	if h.form == nil {
		return nil
	}
	return h.form.File[name]
}

func lastArgument(name string, opts []ArgOption, sources ...url.Values) (string, error) {
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

// queryArgs is the parsed query string, for handlers that only look a
// value up; nil if it did not parse, which runPrepare has answered with 400
// before any verb method runs.
func (h *RequestHandler) queryArgs() url.Values {
	_ = h.parseArguments()
	return h.query
}

// parseArguments parses the query string and a form body, once (Tornado
// parses both before prepare); other bodies are left unread for the
// handler. Its errors are HTTPErrors: 400 for a malformed body (Tornado's
// "Invalid body") or too many arguments, 413 for a body over MaxBodySize
// or a url-encoded one over MaxFormMemory.
func (h *RequestHandler) parseArguments() error {
	if !h.argsParsed {
		h.argsParsed = true
		h.argsError = h.readArguments()
	}
	return h.argsError
}

func (h *RequestHandler) readArguments() error {
	s := h.app.settings
	var err error
	if h.query, err = parseArgs(h.request().URL.RawQuery, s.MaxArguments, "query string"); err != nil {
		return err
	}
	r := h.request()
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	// A declared length over the limit is refused before a byte is read;
	// net/http then drains at most 256 KiB of the body and otherwise
	// closes the connection.
	if r.ContentLength > s.MaxBodySize {
		return bodyTooLarge(s.MaxBodySize, nil)
	}
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded":
		return h.readURLEncodedForm()
	case "multipart/form-data":
		return h.readMultipartForm(params["boundary"])
	}
	return nil
}

// readURLEncodedForm parses a url-encoded body, which lives in memory, so
// it may be at most MaxFormMemory long.
func (h *RequestHandler) readURLEncodedForm() error {
	limit, r := h.app.settings.MaxFormMemory, h.request()
	if enc := r.Header.Get("Content-Encoding"); enc != "" {
		return HTTPError{Code: http.StatusBadRequest, Message: "Invalid body: unsupported Content-Encoding " + enc}
	}
	if r.ContentLength > limit {
		return bodyTooLarge(limit, nil)
	}
	var b strings.Builder
	if r.ContentLength > 0 {
		b.Grow(int(r.ContentLength))
	}
	if _, err := io.Copy(&b, http.MaxBytesReader(h.w, r.Body, limit)); err != nil {
		return bodyError(err)
	}
	var err error
	h.body, err = parseArgs(b.String(), h.app.settings.MaxArguments, "body")
	return err
}

// readMultipartForm parses a multipart body; file parts beyond
// MaxFormMemory go to temporary files, which endRequest removes.
func (h *RequestHandler) readMultipartForm(boundary string) error {
	if boundary == "" {
		return HTTPError{Code: http.StatusBadRequest, Message: "Invalid body: multipart boundary missing"}
	}
	form, err := multipart.NewReader(h.request().Body, boundary).ReadForm(h.app.settings.MaxFormMemory)
	if err != nil {
		return bodyError(err) // ReadForm has removed its files
	}
	h.form = form
	// For code that reads the *http.Request (FormFile, ...). net/http
	// would remove the files itself only if this were its own request,
	// not a copy made by a middleware's r.WithContext.
	h.request().MultipartForm = form
	h.body = form.Value
	return nil
}

// parseArgs parses a query string or url-encoded body like url.ParseQuery,
// skipping the pairs it cannot decode, but answers more than limit pairs
// with a 400 that says so. url.ParseQuery is not used because it has a cap
// of its own (10,000 since Go 1.26, GODEBUG urlmaxqueryparams) past which it
// returns no arguments at all and an error that cannot be told from a
// skipped pair's, so the handler would run with every argument missing.
func parseArgs(s string, limit int, where string) (url.Values, error) {
	if s == "" {
		return nil, nil // nothing to hold: most WebSocket URLs have no query
	}
	if n := strings.Count(s, "&") + 1; n > limit {
		return nil, HTTPError{Code: http.StatusBadRequest,
			Message: fmt.Sprintf("Invalid arguments: the %s has %d, more than the limit of %d", where, n, limit)}
	}
	var v url.Values
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		if v == nil {
			v = url.Values{}
		}
		key, value, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(key)
		value, err2 := url.QueryUnescape(value)
		if err1 != nil || err2 != nil {
			continue
		}
		v[key] = append(v[key], value)
	}
	return v, nil
}

// bodyError turns an error reading or parsing the body into an HTTPError.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return bodyTooLarge(mbe.Limit, err)
	case errors.Is(err, multipart.ErrMessageTooLarge):
		return HTTPError{Code: http.StatusRequestEntityTooLarge, Message: "Invalid body: " + err.Error(), Err: err}
	}
	return HTTPError{Code: http.StatusBadRequest, Message: "Invalid body: " + err.Error(), Err: err}
}

// bodyTooLarge is the 413 for a body over limit bytes; err is the cause, if
// any.
func bodyTooLarge(limit int64, err error) error {
	return HTTPError{Code: http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("Content-Length too long (limit %d bytes)", limit), Err: err}
}
