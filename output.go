package tornago

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// Write appends v to the response body, which is sent by Flush or Finish.
//
// A string or []byte (or a type whose underlying type is one of those, such
// as template.HTML) is written as is. A map or struct (or a pointer to one)
// is encoded as JSON, with "</" escaped as "<\/" so the output is safe to
// embed in a <script> element, and the Content-Type becomes
// "application/json; charset=UTF-8" (call SetHeader after Write to change
// it). Slices and other values are refused with ErrUnsupportedWrite: as in
// Tornado, a top-level JSON array would invite JSON hijacking, so wrap lists
// in an object.
func (h *RequestHandler) Write(v any) error {
	if h.finished {
		return fmt.Errorf("%w: cannot Write after Finish", ErrFinished)
	}
	b, isJSON, err := encodeChunk(v)
	if err != nil {
		return err
	}
	if isJSON {
		h.header.Set("Content-Type", "application/json; charset=UTF-8")
	}
	h.buf = append(h.buf, b...)
	return nil
}

// encodeChunk turns a Write argument into bytes.
func encodeChunk(v any) (b []byte, isJSON bool, err error) {
	switch x := v.(type) {
	case string:
		return []byte(x), false, nil
	case []byte:
		return x, false, nil
	}
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return nil, false, fmt.Errorf("%w: nil", ErrUnsupportedWrite)
	}
	switch rv.Kind() {
	case reflect.String:
		return []byte(rv.String()), false, nil
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return rv.Bytes(), false, nil
		}
	}
	k := rv.Kind()
	if k == reflect.Pointer && !rv.IsNil() {
		k = rv.Elem().Kind()
	}
	if k != reflect.Map && k != reflect.Struct {
		return nil, false, fmt.Errorf("%w: %T (write strings, bytes, maps or structs; wrap lists in an object)", ErrUnsupportedWrite, v)
	}
	b, err = JSONEncode(v)
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// JSONEncode encodes v as Tornado's tornado.escape.json_encode does, for
// JSON that a page's script parses (Write of a map or struct, WriteJSON):
// compact, and "</" written as "<\/" so that the JSON can sit inside a
// <script> element, but "<", ">" and "&" left as they are, where
// encoding/json's default writes each as a six-byte \u escape (HTML that
// a template escaped once, "&lt;", would go out as "\u0026lt;").
func JSONEncode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("tornago: encoding JSON: %w", err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("</"), []byte(`<\/`)), nil
}

// SetStatus sets the response status code (default 200). Like
// http.ResponseWriter.WriteHeader it panics when code is outside 100–999;
// the panic is recovered into a 500. After Flush it has no effect.
func (h *RequestHandler) SetStatus(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("tornago: invalid status code %d", code))
	}
	h.status = code
}

// Status returns the response status code set so far (Tornado's
// get_status).
func (h *RequestHandler) Status() int { return h.status }

// ResponseHeader returns the pending response header, which Flush or Finish
// copies onto the http.ResponseWriter's header. It includes the Set-Cookie
// lines of SetCookie and SetSecureCookie. Prefer SetHeader, which refuses
// unsafe values; changes after Flush have no effect.
func (h *RequestHandler) ResponseHeader() http.Header { return h.pendingHeader() }

// pendingHeader is the pending response header, made again if a
// WebSocket handshake dropped it: headers set after the 101 go nowhere,
// and an idle connection need not hold an empty map for them.
func (h *RequestHandler) pendingHeader() http.Header {
	if h.header == nil {
		h.header = http.Header{}
	}
	return h.header
}

// SetHeader sets a response header, replacing earlier values. A value with a
// control character (\x00-\x1f, as in Tornado) or a name that is not an
// HTTP token is refused with ErrInvalidHeader, since it could split the
// response.
func (h *RequestHandler) SetHeader(name, value string) error {
	if err := checkHeader(name, value); err != nil {
		return err
	}
	h.pendingHeader().Set(name, value)
	return nil
}

// AddHeader adds a response header value, keeping earlier ones (for headers
// that may repeat); values are checked as SetHeader checks them.
func (h *RequestHandler) AddHeader(name, value string) error {
	if err := checkHeader(name, value); err != nil {
		return err
	}
	h.pendingHeader().Add(name, value)
	return nil
}

// ClearHeader removes a response header, undoing SetHeader, AddHeader and
// the default Content-Type (Go will then not sniff one either).
func (h *RequestHandler) ClearHeader(name string) { h.header.Del(name) }

func checkHeader(name, value string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidHeader)
	}
	for i := 0; i < len(name); i++ {
		if !isTokenByte(name[i]) {
			return fmt.Errorf("%w: name %q", ErrInvalidHeader, name)
		}
	}
	for i := 0; i < len(value); i++ {
		if value[i] < 0x20 {
			return fmt.Errorf("%w: unsafe value %q for %s", ErrInvalidHeader, value, name)
		}
	}
	return nil
}

// isTokenByte reports whether c may appear in an HTTP token (RFC 9110).
func isTokenByte(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return c < 0x80 && strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// Redirect answers with a 302 Found to url (which may be relative) and
// finishes the response.
func (h *RequestHandler) Redirect(url string) error {
	return h.RedirectStatus(url, http.StatusFound)
}

// RedirectStatus answers with the 3xx status code (301 for Tornado's
// permanent=True) to url and finishes the response.
func (h *RequestHandler) RedirectStatus(url string, code int) error {
	if h.finished {
		return fmt.Errorf("%w: cannot redirect", ErrFinished)
	}
	if h.headersWritten {
		return fmt.Errorf("%w: cannot redirect", ErrHeadersWritten)
	}
	if code < 300 || code > 399 {
		return fmt.Errorf("tornago: redirect status %d is not 3xx", code)
	}
	if err := h.SetHeader("Location", url); err != nil {
		return err
	}
	h.status = code
	return h.Finish()
}

// Flush sends the headers (the first time) and the buffered body to the
// client now, for streaming responses. After the first Flush the status and
// headers are fixed, no ETag is computed, and an error can no longer become
// an error page (the connection is cut instead).
func (h *RequestHandler) Flush() error {
	if h.finished {
		return fmt.Errorf("%w: cannot Flush after Finish", ErrFinished)
	}
	return h.flush(false)
}

func (h *RequestHandler) flush(finishing bool) error {
	chunk := h.buf
	h.buf = nil
	if !h.headersWritten {
		h.headersWritten = true
		if h.app.settings.CompressResponse {
			chunk = h.gzipFirstChunk(chunk, finishing)
		}
		h.writeHeader()
	} else if h.gzip != nil {
		chunk = h.gzip.transform(chunk, finishing)
	}
	if h.request().Method != http.MethodHead && len(chunk) > 0 {
		if err := h.writeBody(chunk); err != nil {
			return &connectionError{err}
		}
	}
	if !finishing {
		h.extendWriteDeadline()
		err := http.NewResponseController(h.w).Flush()
		if err != nil && !errors.Is(err, http.ErrNotSupported) {
			return &connectionError{err}
		}
	}
	return nil
}

// connectionError is a failure to send the response, usually because the
// client went away; it is logged at Debug level only.
type connectionError struct{ err error }

func (e *connectionError) Error() string { return "tornago: sending response: " + e.err.Error() }
func (e *connectionError) Unwrap() error { return e.err }

// writeHeader copies the pending header onto the ResponseWriter and sends
// the status line.
func (h *RequestHandler) writeHeader() {
	dst := h.w.Header()
	for k, v := range h.header {
		dst[k] = v
	}
	if _, ok := h.header["Content-Type"]; !ok {
		dst["Content-Type"] = nil // no sniffing: we said no Content-Type
	}
	h.w.WriteHeader(h.status)
}

// Finish sends the response and ends the request; the Application calls it
// when the verb method returns, so call it only to end early. On a 200
// response to GET or HEAD without an Etag header it first sets an ETag (the
// SHA-1 of the body, or ComputeEtag's value) and answers 304 Not Modified
// when the request's If-None-Match matches it. It then sets Content-Length,
// writes the access log line and runs OnFinish.
func (h *RequestHandler) Finish() error {
	if h.finished {
		return fmt.Errorf("%w: Finish called twice", ErrFinished)
	}
	if !h.headersWritten {
		r := h.request()
		if h.status == http.StatusOK && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
			h.header.Get("Etag") == "" {
			if etag := h.handler().(etagComputer).ComputeEtag(); etag != "" {
				h.header.Set("Etag", etag)
				if etagMatches(r.Header.Get("If-None-Match"), etag) {
					h.buf = nil
					h.status = http.StatusNotModified
				}
			}
		}
		if h.status == http.StatusNoContent || h.status == http.StatusNotModified || h.status < 200 {
			h.buf = nil
			for _, k := range []string{"Content-Encoding", "Content-Language", "Content-Type"} {
				h.header.Del(k)
			}
		} else if h.header.Get("Content-Length") == "" {
			h.header.Set("Content-Length", strconv.Itoa(len(h.buf)))
		}
	}
	err := h.flush(true)
	if h.gzip != nil {
		h.gzip.release()
		h.gzip = nil
	}
	h.finished = true
	h.logAccess()
	h.runOnFinish()
	return err
}

// Finished reports whether the response has been finished (by Finish,
// Redirect, Render, or an error page).
func (h *RequestHandler) Finished() bool { return h.finished }

// ComputeEtag returns the ETag Finish sets on 200 responses to GET and
// HEAD: the quoted hex SHA-1 of the buffered body, as Tornado's
// compute_etag. Override it in your handler to return your own, or "" to
// turn ETags off.
func (h *RequestHandler) ComputeEtag() string {
	sum := sha1.Sum(h.buf)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// etagMatches is Tornado's check_etag_header: "*" or any entity tag in
// ifNoneMatch equal to etag under the weak comparison.
func etagMatches(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" || etag == "" {
		return false
	}
	weak := func(s string) string { return strings.TrimPrefix(s, "W/") }
	for _, t := range parseEtags(ifNoneMatch) {
		if t == "*" || weak(t) == weak(etag) {
			return true
		}
	}
	return false
}

// parseEtags finds the entity tags (and "*") in an If-None-Match value, as
// Tornado's regular expression \*|(?:W/)?"[^"]*" does.
func parseEtags(s string) []string {
	var tags []string
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '*':
			tags = append(tags, "*")
		case s[i] == '"' || strings.HasPrefix(s[i:], `W/"`):
			start := i
			if s[i] == 'W' {
				i += 2
			}
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return tags
			}
			i += 1 + end
			tags = append(tags, s[start:i+1])
		}
	}
	return tags
}
