package tornago_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tornago/tornago"
)

type user struct{ Name string }

// account answers with the current user; the "user" cookie logs in.
type account struct {
	tornago.RequestHandler
	calls int
}

func (h *account) GetCurrentUser() (any, error) {
	h.calls++
	switch name, _ := h.GetCookie("user"); name {
	case "":
		return (*user)(nil), nil // a typed nil is nobody too
	case "broken":
		return nil, errors.New("user store down")
	default:
		return &user{Name: name}, nil
	}
}

func (h *account) Get(...string) error {
	u, err := h.CurrentUser()
	if err != nil {
		return err
	}
	if _, err := h.CurrentUser(); err != nil || h.calls != 1 {
		return tornago.Errorf(500, "GetCurrentUser called %d times", h.calls)
	}
	return h.Write("hello " + u.(*user).Name)
}

func (h *account) Post(...string) error { return h.Write("posted") }

type customLogin struct{ account }

func (h *customLogin) GetLoginURL() string { return "/signin?from=custom" }

func TestAuthenticated(t *testing.T) {
	t.Parallel()
	newAccount := func() tornago.Handler { return &account{} }
	ta := newTestApp(t, []tornago.Route{
		{Pattern: `/me`, Handler: tornago.Authenticated(newAccount)},
		{Pattern: `/custom`, Handler: tornago.Authenticated(func() tornago.Handler { return &customLogin{} })},
		{Pattern: `/open`, Handler: newAccount},
	}, tornago.Settings{LoginURL: "/login"})
	abs := newTestApp(t, route(`/me`, tornago.Authenticated(newAccount)),
		tornago.Settings{LoginURL: "https://sso.example.com/login"})
	none := newTestApp(t, route(`/me`, tornago.Authenticated(newAccount)), tornago.Settings{})

	tests := []struct {
		name     string
		resp     response
		status   int
		location string
		body     string
	}{
		{"logged in", ta.get("/me?x=1", "Cookie", "user=ann"), 200, "", "hello ann"},
		{"anonymous GET", ta.get("/me?x=1&y=%C3%A9"), 302, "/login?next=" + url.QueryEscape("/me?x=1&y=%C3%A9"), ""},
		{"anonymous HEAD", ta.do("HEAD", "/me", ""), 302, "/login?next=%2Fme", ""},
		{"anonymous POST", ta.do("POST", "/me", ""), 403, "", errorPage("403", "Forbidden")},
		{"absolute login URL", abs.get("/me?a=b"), 302,
			"https://sso.example.com/login?next=" + url.QueryEscape(abs.srv.URL+"/me?a=b"), ""},
		{"login URL with query", ta.get("/custom"), 302, "/signin?from=custom", ""},
		{"no LoginURL", none.get("/me"), 500, "", errorPage("500", "Internal Server Error")},
		{"GetCurrentUser error", ta.get("/me", "Cookie", "user=broken"), 500, "", errorPage("500", "Internal Server Error")},
		{"not wrapped", ta.do("POST", "/open", ""), 200, "", "posted"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.status, tt.resp.StatusCode, tt.name)
		assert.Equal(t, tt.location, tt.resp.Header.Get("Location"), tt.name)
		assert.Equal(t, tt.body, tt.resp.Body, tt.name)
	}
	assert.Contains(t, ta.logs.String(), "user store down")
}

func TestSetCurrentUser(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, tornago.Authenticated(func() tornago.Handler {
		return &prepared{}
	})), tornago.Settings{LoginURL: "/login"})
	assert.Equal(t, "hi ann", ta.get("/?who=ann").Body)
	assert.Equal(t, 302, ta.get("/").StatusCode)
}

// prepared sets the user in Prepare, which runs before Authenticated checks.
type prepared struct{ tornago.RequestHandler }

func (h *prepared) Prepare() error {
	if who, _ := h.GetArgument("who", tornago.Default("")); who != "" {
		h.SetCurrentUser(who)
	}
	return nil
}

func (h *prepared) Get(...string) error {
	u, _ := h.CurrentUser()
	return h.Write("hi " + u.(string))
}

// cookieUser is the direct port of Tornado's
// `return self.get_secure_cookie("user")`: an anonymous visitor's user is "".
type cookieUser struct{ tornago.RequestHandler }

func (h *cookieUser) GetCurrentUser() (any, error) {
	name, _ := h.GetCookie("user")
	return name, nil
}

func (h *cookieUser) Get(...string) error {
	u, _ := h.CurrentUser()
	return h.Write("hi " + u.(string))
}

// zeroUser returns a zero value of another kind for anonymous visitors.
type zeroUser struct {
	tornago.RequestHandler
	zero any
}

func (h *zeroUser) GetCurrentUser() (any, error) { return h.zero, nil }

func (h *zeroUser) Get(...string) error { return h.Write("in") }

func TestAuthenticatedFalsyUserIsNobody(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, []tornago.Route{
		{Pattern: `/me`, Handler: tornago.Authenticated(func() tornago.Handler { return &cookieUser{} })},
	}, tornago.Settings{LoginURL: "/login"})
	assert.Equal(t, 302, ta.get("/me").StatusCode, `"" is nobody, as Tornado's falsy current_user`)
	assert.Equal(t, "hi ann", ta.get("/me", "Cookie", "user=ann").Body)

	for _, zero := range []any{"", 0, false, []string{}, map[string]string{}, int64(0), 0.0} {
		z := newTestApp(t, route(`/`, tornago.Authenticated(func() tornago.Handler { return &zeroUser{zero: zero} })),
			tornago.Settings{LoginURL: "/login"})
		assert.Equal(t, 302, z.get("/").StatusCode, "%T %v counts as nobody", zero, zero)
	}
	for _, user := range []any{"x", 1, true, []string{"a"}, struct{}{}} {
		z := newTestApp(t, route(`/`, tornago.Authenticated(func() tornago.Handler { return &zeroUser{zero: user} })),
			tornago.Settings{LoginURL: "/login"})
		assert.Equal(t, 200, z.get("/").StatusCode, "%T %v is a user", user, user)
	}
}
