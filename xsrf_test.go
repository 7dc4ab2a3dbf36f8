package tornago_test

import (
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

type formHandler struct{ tornago.RequestHandler }

func (h *formHandler) Get(...string) error {
	a, b := h.XSRFToken(), h.XSRFToken()
	if a != b {
		return tornago.Errorf(500, "token changed within a request")
	}
	return h.Write(string(h.XSRFFormHTML()))
}

func (h *formHandler) Post(...string) error    { return h.Write("posted") }
func (h *formHandler) Options(...string) error { return h.Write("options") }

type apiHandler struct{ formHandler }

func (h *apiHandler) CheckXSRFCookie() error { return nil }

type loggedIn struct{ formHandler }

func (h *loggedIn) GetCurrentUser() (any, error) { return "ann", nil }

func xsrfApp(t *testing.T, opts ...tornago.CookieOption) *testApp {
	return newTestApp(t, []tornago.Route{
		{Pattern: `/form`, Handler: func() tornago.Handler { return &formHandler{} }},
		{Pattern: `/api`, Handler: func() tornago.Handler { return &apiHandler{} }},
		{Pattern: `/user`, Handler: func() tornago.Handler { return &loggedIn{} }},
	}, tornago.Settings{XSRFCookies: true, XSRFCookieOptions: opts})
}

var formToken = regexp.MustCompile(`^<input type="hidden" name="_xsrf" value="(2\|[0-9a-f]{8}\|[0-9a-f]{32}\|\d+)"/>$`)

func TestXSRF(t *testing.T) {
	t.Parallel()
	ta := xsrfApp(t)
	page := ta.get("/form")
	m := formToken.FindStringSubmatch(page.Body)
	require.NotNil(t, m, page.Body)
	token := m[1]
	cookie := cookieFrom(t, page, "_xsrf")
	assert.True(t, cookie.Expires.IsZero(), "a session cookie for anonymous users")
	cookieHdr := "_xsrf=" + cookie.Value

	again := ta.get("/form", "Cookie", cookieHdr)
	assert.Empty(t, again.Header.Values("Set-Cookie"), "an existing cookie is reused")
	token2 := formToken.FindStringSubmatch(again.Body)[1]
	assert.NotEqual(t, token, token2, "masked anew for every page")

	form := func(tok string) url.Values { return url.Values{"_xsrf": {tok}} }
	tests := []struct {
		name   string
		resp   response
		status int
		log    string
	}{
		{"form field", ta.postForm("/form", form(token), "Cookie", cookieHdr), 200, ""},
		{"other masking", ta.postForm("/form", form(token2), "Cookie", cookieHdr), 200, ""},
		{"query argument", ta.do("POST", "/form?_xsrf="+url.QueryEscape(token), "", "Cookie", cookieHdr), 200, ""},
		{"X-XSRFToken", ta.do("PUT", "/form", "", "Cookie", cookieHdr, "X-XSRFToken", token), 405, ""},
		{"X-CSRFToken", ta.do("POST", "/form", "", "Cookie", cookieHdr, "X-CSRFToken", token), 200, ""},
		{"raw cookie value as token", ta.do("POST", "/form", "", "Cookie", cookieHdr, "X-XSRFToken", cookie.Value), 200, ""},
		{"missing", ta.do("POST", "/form", "", "Cookie", cookieHdr), 403, "'_xsrf' argument missing from POST"},
		{"no cookie", ta.postForm("/form", form(token)), 403, "XSRF cookie does not match POST argument"},
		{"bad format", ta.postForm("/form", form("2|zz|yy|1"), "Cookie", cookieHdr), 403, "'_xsrf' argument has invalid format"},
		{"wrong token", ta.postForm("/form", form("2|00000000|"+strings.Repeat("ab", 16)+"|1"), "Cookie", cookieHdr),
			403, "XSRF cookie does not match POST argument"},
		{"DELETE checked", ta.do("DELETE", "/form", "", "Cookie", cookieHdr), 403, ""},
		{"OPTIONS exempt", ta.do("OPTIONS", "/form", ""), 200, ""},
		{"handler opts out", ta.do("POST", "/api", ""), 200, ""},
		{"404 stays 404", ta.do("POST", "/nowhere", ""), 404, ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.status, tt.resp.StatusCode, tt.name)
		if tt.status == 403 {
			assert.Equal(t, errorPage("403", "Forbidden"), tt.resp.Body, tt.name)
		}
		if tt.log != "" {
			assert.Contains(t, ta.logs.String(), tt.log, tt.name)
		}
	}
}

func TestXSRFVersion1Cookie(t *testing.T) {
	t.Parallel()
	ta := xsrfApp(t)
	raw := hex.EncodeToString([]byte("0123456789abcdef"))
	resp := ta.postForm("/form", url.Values{"_xsrf": {raw}}, "Cookie", "_xsrf="+raw)
	assert.Equal(t, 200, resp.StatusCode)
	page := ta.get("/form", "Cookie", "_xsrf="+raw)
	token := formToken.FindStringSubmatch(page.Body)[1]
	resp = ta.postForm("/form", url.Values{"_xsrf": {token}}, "Cookie", "_xsrf="+raw)
	assert.Equal(t, 200, resp.StatusCode, "a v2 masking of a v1 token matches")
}

func TestXSRFCookieOptions(t *testing.T) {
	t.Parallel()
	ta := xsrfApp(t, tornago.CookieSecure(), tornago.CookieSameSite(http.SameSiteLaxMode))
	c := cookieFrom(t, ta.get("/form"), "_xsrf")
	assert.True(t, c.Secure)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	c = cookieFrom(t, ta.get("/user"), "_xsrf")
	assert.InDelta(t, 30*24*time.Hour, time.Until(c.Expires), float64(time.Minute), "30 days for a logged-in user")
}
