package routing

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns is an [*Error] wrapping
// exactly one of these, so callers can branch with [errors.Is] and still get
// a message naming the offending rule, route name or value.
var (
	// ErrBadPattern: a path or host pattern does not compile as a Go
	// (RE2) regular expression, or uses a group name twice.
	ErrBadPattern = errors.New("bad pattern")
	// ErrMixedGroups: a pattern mixes named and positional capturing
	// groups, which Tornado forbids because a handler receives either
	// positional or keyword arguments, never both.
	ErrMixedGroups = errors.New("named and positional groups mixed")
	// ErrDuplicateName: two rules share a Name, so ReverseURL would be
	// ambiguous. (Tornado logs a warning and keeps the last one.)
	ErrDuplicateName = errors.New("duplicate rule name")
	// ErrUnknownName: ReverseURL was asked for a name no rule has.
	ErrUnknownName = errors.New("unknown rule name")
	// ErrNotReversible: the named rule's pattern is not simple enough to
	// rebuild a path from (see [Router.ReverseURL]).
	ErrNotReversible = errors.New("pattern not reversible")
	// ErrArgCount: ReverseURL got a different number of arguments than the
	// pattern has groups.
	ErrArgCount = errors.New("wrong number of arguments")
	// ErrInvalidUTF8: a path argument is not valid UTF-8 after
	// percent-decoding; the request must be answered with 400.
	ErrInvalidUTF8 = errors.New("invalid UTF-8 in path argument")
)

// Error is the error type of this package.
//
// Code is an HTTP status for errors found while matching a request (400 for
// [ErrInvalidUTF8]) and 0 for errors in the rule table or in ReverseURL
// arguments, which are programming errors rather than client errors.
// Msg is the detail; for a 400 it is Tornado's log message, e.g.
// `Invalid unicode in url: b'\xff'`.
type Error struct {
	Code int
	Msg  string
	Err  error // the sentinel, possibly joined with a cause such as a regexp error
}

// Error formats the error as "routing: <sentinel>: <detail>", with the HTTP
// status in front of the detail when Code is set.
func (e *Error) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("routing: %d %v: %s", e.Code, e.Err, e.Msg)
	}
	return fmt.Sprintf("routing: %v: %s", e.Err, e.Msg)
}

// Unwrap returns the wrapped sentinel (and cause), for [errors.Is] and
// [errors.As].
func (e *Error) Unwrap() error { return e.Err }

func newError(code int, sentinel error, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}
