package tornago

import (
	"errors"
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/tornago/tornago/routing"
)

// HTTPError is an error that becomes an HTTP error response: return it (as a
// value or a pointer) from a verb method, Prepare or Open and the client gets
// status Code. It is Tornado's tornado.web.HTTPError.
//
// Message is Tornado's log_message: it is written to the log (at Warn level,
// with the request summary) and, as in Tornado, not shown to the client
// except when Settings.Debug is on; the default error page shows only the
// standard reason phrase ("404: Not Found"). A custom WriteError can show it:
// the error passed to WriteError is the one returned, so errors.As finds the
// HTTPError. Err, if set, is a wrapped cause for errors.Is and errors.As.
//
// Header, if set, is added to the error response after the pending headers
// were reset (e.g. WWW-Authenticate for a 401, Retry-After for a 429,
// Allow for a 405).
type HTTPError struct {
	Code    int
	Message string
	Err     error
	Header  http.Header
}

// Errorf returns an HTTPError with status code and a Message formatted as
// fmt.Errorf does; a %w verb also sets Err, so the cause stays inspectable.
func Errorf(code int, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return HTTPError{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// Error formats the error as Tornado does: "HTTP 404: Not Found (message)",
// followed by ": cause" when Err is set and not already in the message.
func (e HTTPError) Error() string {
	s := fmt.Sprintf("HTTP %d: %s", e.status(), reasonPhrase(e.status()))
	if e.Message != "" {
		s += " (" + e.Message + ")"
	}
	if e.Err != nil && !strings.Contains(e.Message, e.Err.Error()) {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Err, so errors.Is and errors.As see the cause.
func (e HTTPError) Unwrap() error { return e.Err }

// status is Code, or 500 when Code is not a valid HTTP status.
func (e HTTPError) status() int {
	if e.Code < 100 || e.Code > 999 {
		return http.StatusInternalServerError
	}
	return e.Code
}

// MissingArgumentError is the cause (Err) of the 400 HTTPError that
// GetArgument and friends return for a required argument the request lacks.
type MissingArgumentError struct {
	Name string // the argument's name
}

// Error returns Tornado's log message, "Missing argument NAME".
func (e *MissingArgumentError) Error() string { return "Missing argument " + e.Name }

func missingArgument(name string) error {
	cause := &MissingArgumentError{Name: name}
	return HTTPError{Code: http.StatusBadRequest, Message: cause.Error(), Err: cause}
}

// Sentinel errors returned by RequestHandler methods; test with errors.Is.
var (
	// ErrFinished: Write, Finish, Redirect or Render was called after the
	// response was finished (Tornado raises RuntimeError there).
	ErrFinished = errors.New("tornago: response already finished")
	// ErrHeadersWritten: the call needs unsent headers (Redirect, a new
	// status), but Flush already sent them.
	ErrHeadersWritten = errors.New("tornago: headers already written")
	// ErrInvalidHeader: a header name is not an HTTP token, or a value
	// holds a control character (which could split the response).
	ErrInvalidHeader = errors.New("tornago: invalid header")
	// ErrInvalidCookie: a cookie name or value holds a byte a Set-Cookie
	// header cannot carry unquoted (control characters, space, '"', ';',
	// '\\', non-ASCII).
	ErrInvalidCookie = errors.New("tornago: invalid cookie")
	// ErrUnsupportedWrite: Write was given a value that is neither a
	// string, bytes, a map nor a struct. Lists are refused on purpose, as
	// in Tornado: a top-level JSON array invites JSON hijacking.
	ErrUnsupportedWrite = errors.New("tornago: unsupported value for Write")
	// ErrMissingSetting: the feature needs a Settings field that is empty
	// (CookieSecret for secure cookies, StaticPath for StaticURL, LoginURL
	// for Authenticated, TemplatePath for Render).
	ErrMissingSetting = errors.New("tornago: required setting missing")
)

// statusOf maps an error returned by handler code to an HTTP status.
func statusOf(err error) int {
	if he, ok := asHTTPError(err); ok {
		return he.status()
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		return http.StatusBadRequest
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	var re *routing.Error
	if errors.As(err, &re) && re.Code != 0 {
		return re.Code
	}
	return http.StatusInternalServerError
}

// asHTTPError finds an HTTPError, returned by value or by pointer, in err's
// chain.
func asHTTPError(err error) (HTTPError, bool) {
	var v HTTPError
	if errors.As(err, &v) {
		return v, true
	}
	var p *HTTPError
	if errors.As(err, &p) && p != nil {
		return *p, true
	}
	return HTTPError{}, false
}

// reasonPhrase is the standard reason phrase for code, "Unknown" for codes
// without one (as Tornado's httputil.responses lookup).
func reasonPhrase(code int) string {
	if s := http.StatusText(code); s != "" {
		return s
	}
	return "Unknown"
}

// errorPage is Tornado's default write_error body.
func errorPage(code int) string {
	m := html.EscapeString(reasonPhrase(code))
	return fmt.Sprintf("<html><title>%d: %s</title><body>%d: %s</body></html>", code, m, code, m)
}
