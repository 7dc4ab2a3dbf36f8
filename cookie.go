package tornago

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// CookieOption sets an attribute of a cookie written by SetCookie and its
// relatives (Tornado's set_cookie keyword arguments).
type CookieOption func(*http.Cookie)

// CookiePath sets the cookie's Path; the default is "/", as in Tornado.
func CookiePath(path string) CookieOption { return func(c *http.Cookie) { c.Path = path } }

// CookieDomain sets the cookie's Domain; the default is the request's host
// only.
func CookieDomain(domain string) CookieOption { return func(c *http.Cookie) { c.Domain = domain } }

// CookieExpires sets the cookie's Expires attribute.
func CookieExpires(t time.Time) CookieOption { return func(c *http.Cookie) { c.Expires = t } }

// CookieExpiresDays makes the cookie expire days from now (Tornado's
// expires_days; fractions allowed).
func CookieExpiresDays(days float64) CookieOption {
	return func(c *http.Cookie) {
		c.Expires = time.Now().Add(time.Duration(days * float64(24*time.Hour)))
	}
}

// CookieMaxAge sets the cookie's Max-Age, rounded down to whole seconds; a
// non-positive d deletes the cookie (Max-Age=0).
func CookieMaxAge(d time.Duration) CookieOption {
	return func(c *http.Cookie) {
		c.MaxAge = int(d / time.Second)
		if c.MaxAge <= 0 {
			c.MaxAge = -1
		}
	}
}

// CookieSession removes Expires and Max-Age, so the browser drops the
// cookie when it closes (Tornado's expires_days=None for secure cookies).
func CookieSession() CookieOption {
	return func(c *http.Cookie) { c.Expires, c.MaxAge = time.Time{}, 0 }
}

// CookieHTTPOnly hides the cookie from JavaScript.
func CookieHTTPOnly() CookieOption { return func(c *http.Cookie) { c.HttpOnly = true } }

// CookieSecure makes the browser send the cookie over HTTPS only.
func CookieSecure() CookieOption { return func(c *http.Cookie) { c.Secure = true } }

// CookieSameSite sets the SameSite attribute (http.SameSiteLaxMode, ...).
func CookieSameSite(s http.SameSite) CookieOption { return func(c *http.Cookie) { c.SameSite = s } }

// GetCookie returns the value of the request cookie name. Like Tornado's
// get_cookie it sees only cookies the request carried, not those set by
// SetCookie in this handler.
func (h *RequestHandler) GetCookie(name string) (string, bool) {
	c, err := h.request().Cookie(name)
	if err != nil {
		return "", false
	}
	return c.Value, true
}

// Cookies returns all cookies the request carried.
func (h *RequestHandler) Cookies() []*http.Cookie { return h.request().Cookies() }

// SetCookie adds a Set-Cookie header to the response, replacing one set
// earlier in this handler under the same name. The path defaults to "/".
// Names must be HTTP tokens; values may not hold control characters, space,
// '"', ';', '\\' or non-ASCII bytes (ErrInvalidCookie) — escape such values
// or use SetSecureCookie. The cookie survives an error page, as in Tornado.
func (h *RequestHandler) SetCookie(name, value string, opts ...CookieOption) error {
	if err := checkCookie(name, value); err != nil {
		return err
	}
	c := &http.Cookie{Name: name, Value: value, Path: "/"}
	for _, o := range opts {
		o(c)
	}
	if err := checkCookieAttributes(c); err != nil {
		return err
	}
	line := c.String()
	if line == "" {
		return fmt.Errorf("%w: %q", ErrInvalidCookie, name)
	}
	lines := h.header["Set-Cookie"][:0:0]
	for _, l := range h.header["Set-Cookie"] {
		if n, _, _ := strings.Cut(l, "="); n != name {
			lines = append(lines, l)
		}
	}
	h.pendingHeader()["Set-Cookie"] = append(lines, line)
	return nil
}

// checkCookie refuses what http.Cookie would silently drop or quote
// unexpectedly, as Tornado refuses [\x00-\x20] in names and values.
func checkCookie(name, value string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidCookie)
	}
	for i := 0; i < len(name); i++ {
		if !isTokenByte(name[i]) {
			return fmt.Errorf("%w: name %q", ErrInvalidCookie, name)
		}
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c <= 0x20 || c >= 0x7f || c == '"' || c == ';' || c == '\\' {
			return fmt.Errorf("%w: value of %s has byte %#x", ErrInvalidCookie, name, c)
		}
	}
	return nil
}

// checkCookieAttributes refuses a Path or Domain that http.Cookie would drop
// (with a message on the standard logger).
func checkCookieAttributes(c *http.Cookie) error {
	for i := 0; i < len(c.Path); i++ {
		if b := c.Path[i]; b < 0x20 || b >= 0x7f || b == ';' {
			return fmt.Errorf("%w: path %q", ErrInvalidCookie, c.Path)
		}
	}
	if c.Domain != "" && !validCookieDomain(c.Domain) {
		return fmt.Errorf("%w: domain %q", ErrInvalidCookie, c.Domain)
	}
	return nil
}

// validCookieDomain accepts what net/http accepts: an IPv4 address or a
// host name of letters, digits, '-' and '_' labels, optionally with a
// leading dot.
func validCookieDomain(d string) bool {
	if ip := net.ParseIP(d); ip != nil {
		return !strings.Contains(d, ":")
	}
	d = strings.TrimPrefix(d, ".")
	if d == "" || len(d) > 255 {
		return false
	}
	letter := false
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			switch c := label[i]; {
			case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_':
				letter = true
			case c >= '0' && c <= '9' || c == '-':
			default:
				return false
			}
		}
	}
	return letter
}

// ClearCookie deletes the cookie name in the browser by setting it empty
// and expired. Pass the Path and Domain it was set with; a cookie is only
// replaced by one with the same name, path and domain.
func (h *RequestHandler) ClearCookie(name string, opts ...CookieOption) error {
	all := append(opts[:len(opts):len(opts)], CookieExpires(time.Now().Add(-365*24*time.Hour)), CookieMaxAge(0))
	return h.SetCookie(name, "", all...)
}

// ClearAllCookies deletes every cookie the request carried (with the given
// path and domain options, see ClearCookie).
func (h *RequestHandler) ClearAllCookies(opts ...CookieOption) error {
	var errs []error
	for _, c := range h.request().Cookies() {
		errs = append(errs, h.ClearCookie(c.Name, opts...))
	}
	return errors.Join(errs...)
}

// SetSecureCookie signs (and, with the default codec, encrypts) value with
// Settings.CookieSecret and sets it as cookie name, expiring in 30 days
// unless opts say otherwise (CookieSession for a browser-session cookie).
// Read it back with GetSecureCookie. It needs a secret or a CookieCodec in
// the settings (else ErrMissingSetting).
func (h *RequestHandler) SetSecureCookie(name, value string, opts ...CookieOption) error {
	v, err := h.CreateSignedValue(name, value)
	if err != nil {
		return err
	}
	return h.SetCookie(name, v, append([]CookieOption{CookieExpiresDays(30)}, opts...)...)
}

// GetSecureCookie returns the value of the request's secure cookie name if
// its signature verifies and it is at most 31 days old (Tornado's
// max_age_days default). A missing cookie is http.ErrNoCookie; a forged,
// expired or malformed one is an error from the cookies package (test with
// errors.Is against its sentinels). Either way, treat the user as unknown.
func (h *RequestHandler) GetSecureCookie(name string) (string, error) {
	return h.GetSecureCookieMaxAge(name, 0)
}

// GetSecureCookieMaxAge is GetSecureCookie with another maximum age (the
// cookie's signing time is checked, independent of its Expires); zero means
// the default, 31 days.
func (h *RequestHandler) GetSecureCookieMaxAge(name string, maxAge time.Duration) (string, error) {
	c, err := h.request().Cookie(name)
	if err != nil {
		return "", fmt.Errorf("tornago: secure cookie %s: %w", name, err)
	}
	return h.DecodeSignedValue(name, c.Value, maxAge)
}

// SetSignedCookie is SetSecureCookie under its Tornado 6.3 name.
func (h *RequestHandler) SetSignedCookie(name, value string, opts ...CookieOption) error {
	return h.SetSecureCookie(name, value, opts...)
}

// GetSignedCookie is GetSecureCookie under its Tornado 6.3 name.
func (h *RequestHandler) GetSignedCookie(name string) (string, error) {
	return h.GetSecureCookie(name)
}

// CreateSignedValue signs value for name as SetSecureCookie does, for
// signed values carried elsewhere than in a cookie (Tornado's
// create_signed_value).
func (h *RequestHandler) CreateSignedValue(name, value string) (string, error) {
	codec, err := h.app.secureCodec()
	if err != nil {
		return "", err
	}
	v, err := codec.Encode(name, []byte(value))
	if err != nil {
		return "", fmt.Errorf("tornago: signing %s: %w", name, err)
	}
	return v, nil
}

// DecodeSignedValue verifies a value made by CreateSignedValue (or
// SetSecureCookie) for name, at most maxAge old (0: 31 days), and returns
// its content.
func (h *RequestHandler) DecodeSignedValue(name, signed string, maxAge time.Duration) (string, error) {
	codec, err := h.app.secureCodec()
	if err != nil {
		return "", err
	}
	b, err := codec.Decode(name, signed, maxAge)
	if err != nil {
		return "", fmt.Errorf("tornago: secure cookie %s: %w", name, err)
	}
	return string(b), nil
}
