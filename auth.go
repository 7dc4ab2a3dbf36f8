package tornago

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
)

// CurrentUser returns the authenticated user of this request, loaded at
// most once per request (Tornado's current_user property): what the
// handler's own GetCurrentUser method returns, else what
// Settings.GetCurrentUser returns for it (the hook every handler of the
// Application shares, pages and WebSockets alike), else nil; or what
// SetCurrentUser stored. As in Tornado, where any falsy current_user means
// nobody, a user for which IsNobody is true means nobody is logged in, so
// the direct port of `return self.get_secure_cookie("user")`
// (GetSecureCookie returns "" for an anonymous visitor) is safe. An error
// from the loader is returned on every call, so return it from the handler
// to answer 500.
func (h *RequestHandler) CurrentUser() (any, error) {
	if !h.userLoaded {
		load := h.app.settings.GetCurrentUser
		if g, ok := h.handler().(currentUserGetter); ok {
			load = func(*RequestHandler) (any, error) { return g.GetCurrentUser() }
		}
		if load != nil {
			u, err := load(h)
			if err != nil {
				return nil, fmt.Errorf("tornago: GetCurrentUser: %w", err)
			}
			h.user = u
		}
		h.userLoaded = true
	}
	return h.user, nil
}

// SetCurrentUser sets the user CurrentUser returns, e.g. from Prepare when
// loading the user needs the request's context (Tornado's current_user
// setter).
func (h *RequestHandler) SetCurrentUser(user any) {
	h.user, h.userLoaded = user, true
}

// GetLoginURL returns where Authenticated sends anonymous visitors:
// Settings.LoginURL. Override it in your handler to choose per request.
func (h *RequestHandler) GetLoginURL() string { return h.app.settings.LoginURL }

// Authenticated wraps a Factory so that its handlers require a logged-in
// user (see CurrentUser for what counts as nobody), as Tornado's
// @authenticated: after Prepare, an anonymous GET or HEAD is redirected
// (302) to the login URL with a "next" argument holding the requested URI
// (the full URL when the login URL is absolute; nothing is added when it
// already has a query), and any other method gets 403.
//
// With no methods every verb requires a user, as @authenticated on every
// method of the class. Listing methods protects only those, as decorating
// only some methods does: Authenticated(newPanel, http.MethodPost) lets
// anyone GET the page and requires a user to POST to it. HEAD is protected
// with GET when the handler has no Head method (HEAD then runs Get). It
// panics on a name that is not one of GET, HEAD, POST, PUT, DELETE, PATCH
// and OPTIONS, since a misspelt verb would leave it unprotected.
func Authenticated(f Factory, methods ...string) Factory {
	var only []string
	for _, m := range methods {
		m = strings.ToUpper(m)
		if !supportedMethods[m] {
			panic(fmt.Sprintf("tornago: Authenticated: %q is not an HTTP method a handler serves", m))
		}
		only = append(only, m)
	}
	return func() Handler {
		h := f()
		if h != nil {
			rh := h.requestHandler()
			// Nested wrappers protect the union of their methods.
			switch {
			case !rh.requireUser || only == nil:
				rh.requireUserFor = only
			case rh.requireUserFor != nil:
				rh.requireUserFor = append(slices.Clip(rh.requireUserFor), only...)
			}
			rh.requireUser = true
		}
		return h
	}
}

// userRequired reports whether Authenticated protects this request's
// method.
func (h *RequestHandler) userRequired() bool {
	if !h.requireUser || h.requireUserFor == nil {
		return h.requireUser
	}
	m := h.method()
	if slices.Contains(h.requireUserFor, m) {
		return true
	}
	_, hasHead := h.handler().(headHandler)
	return m == http.MethodHead && !hasHead && slices.Contains(h.requireUserFor, http.MethodGet)
}

// authenticate enforces Authenticated after Prepare.
func (h *RequestHandler) authenticate() error {
	u, err := h.CurrentUser()
	if err != nil {
		return err
	}
	if !IsNobody(u) {
		return nil
	}
	if m := h.method(); m != http.MethodGet && m != http.MethodHead {
		return HTTPError{Code: http.StatusForbidden}
	}
	login := h.handler().(loginURLGetter).GetLoginURL()
	if login == "" {
		return fmt.Errorf("%w: LoginURL (for Authenticated)", ErrMissingSetting)
	}
	if !strings.Contains(login, "?") {
		next := h.requestURI()
		if u, err := url.Parse(login); err == nil && u.Scheme != "" {
			next = h.fullURL()
		}
		login += "?" + url.Values{"next": {next}}.Encode()
	}
	return h.Redirect(login)
}

// fullURL is the request's absolute URL (Tornado's full_url).
func (h *RequestHandler) fullURL() string {
	v := h.app.clientView(h.request())
	return v.proto + "://" + v.host + h.requestURI()
}

// IsNobody reports whether a current user v means nobody is logged in, as
// `not self.current_user` does in Tornado: nil, a nil pointer, map, slice
// or interface, an empty string, slice or map, false and numeric zero.
// Authenticated applies it; use it where a handler checks by hand:
//
//	u, err := h.CurrentUser()
//	if err != nil {
//		return err
//	}
//	if tornago.IsNobody(u) {
//		return tornago.HTTPError{Code: http.StatusForbidden}
//	}
func IsNobody(v any) bool {
	if isNil(v) {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Map:
		return rv.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return rv.IsZero()
	}
	return false
}

// isNil reports whether v is nil or a nil pointer, map, slice, interface,
// channel or func.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface, reflect.Chan, reflect.Func:
		return rv.IsNil()
	}
	return false
}
