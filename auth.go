package tornago

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
)

// CurrentUser returns the authenticated user of this request: what the
// handler's GetCurrentUser returns, called at most once per request (Tornado's
// current_user property), or what SetCurrentUser stored. As in Tornado,
// where any falsy current_user means nobody, nil, a nil pointer, map or
// slice, an empty string, slice or map, false and zero mean nobody is
// logged in, so the direct port of `return self.get_secure_cookie("user")`
// (GetSecureCookie returns "" for an anonymous visitor) is safe. Without a GetCurrentUser
// method it is nil. An error from GetCurrentUser is returned on every call,
// so return it from the handler to answer 500.
func (h *RequestHandler) CurrentUser() (any, error) {
	if !h.userLoaded {
		h.userLoaded = true
		if g, ok := h.handler().(currentUserGetter); ok {
			u, err := g.GetCurrentUser()
			if err != nil {
				h.userLoaded = false
				return nil, fmt.Errorf("tornago: GetCurrentUser: %w", err)
			}
			h.user = u
		}
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

// Authenticated wraps a Factory so that every verb of its handlers requires
// a logged-in user (see CurrentUser for what counts as nobody), as
// Tornado's @authenticated: after
// Prepare, an anonymous GET or HEAD is redirected (302) to the login URL with
// a "next" argument holding the requested URI (the full URL when the login
// URL is absolute; nothing is added when it already has a query), and any
// other method gets 403.
func Authenticated(f Factory) Factory {
	return func() Handler {
		h := f()
		if h != nil {
			h.requestHandler().requireUser = true
		}
		return h
	}
}

// authenticate enforces Authenticated after Prepare.
func (h *RequestHandler) authenticate() error {
	u, err := h.CurrentUser()
	if err != nil {
		return err
	}
	if !isNobody(u) {
		return nil
	}
	if h.r.Method != http.MethodGet && h.r.Method != http.MethodHead {
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
	v := h.app.clientView(h.r)
	return v.proto + "://" + v.host + h.requestURI()
}

// isNobody reports whether a current user v is Tornado's "not
// current_user": nil, a nil or empty container, "", false or zero.
func isNobody(v any) bool {
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
