package tornago_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/cookies"
)

func TestSetCookie(t *testing.T) {
	t.Parallel()
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		require.NoError(t, h.SetCookie("plain", "v1"))
		require.NoError(t, h.SetCookie("plain", "v2")) // replaces v1
		require.NoError(t, h.SetCookie("full", "x", tornago.CookiePath("/app"), tornago.CookieDomain("example.com"),
			tornago.CookieExpires(expires), tornago.CookieMaxAge(time.Hour), tornago.CookieHTTPOnly(),
			tornago.CookieSecure(), tornago.CookieSameSite(http.SameSiteStrictMode)))
		require.NoError(t, h.ClearCookie("old", tornago.CookiePath("/app")))
		for _, bad := range [][2]string{{"a b", "v"}, {"", "v"}, {"n", "sp ace"}, {"n", "semi;colon"},
			{"n", `quo"te`}, {"n", "new\nline"}, {"n", "é"}, {"n=x", "v"}} {
			assert.ErrorIs(t, h.SetCookie(bad[0], bad[1]), tornago.ErrInvalidCookie, "%q", bad)
		}
		for _, opt := range []tornago.CookieOption{tornago.CookiePath("/a;b"), tornago.CookiePath("/\n"),
			tornago.CookieDomain("exa mple.com"), tornago.CookieDomain("-x.com"), tornago.CookieDomain("::1")} {
			assert.ErrorIs(t, h.SetCookie("n", "v", opt), tornago.ErrInvalidCookie)
		}
		for _, d := range []string{".example.com", "127.0.0.1", "my_host.local"} {
			assert.NoError(t, h.SetCookie("d", "v", tornago.CookieDomain(d)), d)
		}
		got, ok := h.GetCookie("incoming")
		assert.True(t, ok)
		_, ok = h.GetCookie("plain")
		assert.False(t, ok, "GetCookie sees only the request's cookies")
		return h.Write(got)
	})), tornago.Settings{})
	resp := ta.get("/", "Cookie", "incoming=hello")
	assert.Equal(t, "hello", resp.Body)
	lines := resp.Header.Values("Set-Cookie")
	require.Len(t, lines, 4)
	assert.Equal(t, "plain=v2; Path=/", lines[0])
	assert.Equal(t, "full=x; Path=/app; Domain=example.com; Expires=Wed, 02 Jan 2030 03:04:05 GMT; "+
		"Max-Age=3600; HttpOnly; Secure; SameSite=Strict", lines[1])
	old, err := http.ParseSetCookie(lines[2])
	require.NoError(t, err)
	assert.Equal(t, "old", old.Name)
	assert.Empty(t, old.Value)
	assert.Equal(t, "/app", old.Path)
	assert.True(t, old.Expires.Before(time.Now().Add(-300*24*time.Hour)))
	assert.Equal(t, -1, old.MaxAge)
}

func TestCookiesSurviveErrorPage(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		require.NoError(t, h.SetCookie("kept", "1"))
		return tornago.HTTPError{Code: 403}
	})), tornago.Settings{})
	resp := ta.get("/")
	assert.Equal(t, 403, resp.StatusCode)
	assert.Equal(t, []string{"kept=1; Path=/"}, resp.Header.Values("Set-Cookie"))
}

// secureApp sets the "user" cookie on /set?v= and reads it on /get.
func secureApp(t *testing.T, s tornago.Settings) *testApp {
	return newTestApp(t, []tornago.Route{
		{Pattern: `/set`, Handler: fn(func(h *funcHandler, _ ...string) error {
			v, err := h.GetArgument("v")
			if err != nil {
				return err
			}
			if _, ok := h.GetCookie("session"); ok {
				return h.SetSignedCookie("user", v, tornago.CookieSession())
			}
			return h.SetSecureCookie("user", v, tornago.CookieHTTPOnly())
		})},
		{Pattern: `/get`, Handler: fn(func(h *funcHandler, _ ...string) error {
			v, err := h.GetSignedCookie("user")
			switch {
			case errors.Is(err, http.ErrNoCookie):
				return h.Write("none")
			case err != nil:
				return h.Write("invalid: " + err.Error())
			}
			return h.Write("user=" + v)
		})},
	}, s)
}

// cookieFrom returns the named Set-Cookie of resp, parsed.
func cookieFrom(t *testing.T, resp response, name string) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s cookie in %q", name, resp.Header.Values("Set-Cookie"))
	return nil
}

func TestSecureCookie(t *testing.T) {
	t.Parallel()
	ta := secureApp(t, tornago.Settings{CookieSecret: "0123456789abcdef0123456789abcdef"})
	resp := ta.get("/set?v=alice%20%C3%A9")
	require.Equal(t, 200, resp.StatusCode)
	c := cookieFrom(t, resp, "user")
	assert.True(t, c.HttpOnly)
	assert.InDelta(t, 30*24*time.Hour, time.Until(c.Expires), float64(time.Minute), "30 days by default")
	assert.NotContains(t, c.Value, "alice")

	assert.Equal(t, "user=alice é", ta.get("/get", "Cookie", "user="+c.Value).Body)
	assert.Equal(t, "none", ta.get("/get").Body)
	tampered := c.Value[:len(c.Value)-2] + "AA"
	assert.True(t, strings.HasPrefix(ta.get("/get", "Cookie", "user="+tampered).Body, "invalid: "))

	session := cookieFrom(t, ta.get("/set?v=bob", "Cookie", "session=1"), "user")
	assert.True(t, session.Expires.IsZero(), "CookieSession drops Expires")
	assert.Equal(t, "user=bob", ta.get("/get", "Cookie", "user="+session.Value).Body)

	other := secureApp(t, tornago.Settings{CookieSecret: "another secret, another app......"})
	assert.True(t, strings.HasPrefix(other.get("/get", "Cookie", "user="+c.Value).Body, "invalid: "))
}

func TestSecureCookieKeyRotation(t *testing.T) {
	t.Parallel()
	old := secureApp(t, tornago.Settings{CookieSecrets: map[int]string{0: "old secret old secret old secret"}})
	rotated := secureApp(t, tornago.Settings{
		CookieSecrets: map[int]string{0: "old secret old secret old secret", 1: "new secret new secret new secret"},
		KeyVersion:    1,
	})
	retired := secureApp(t, tornago.Settings{CookieSecrets: map[int]string{1: "new secret new secret new secret"}, KeyVersion: 1})

	oldCookie := cookieFrom(t, old.get("/set?v=a"), "user").Value
	newCookie := cookieFrom(t, rotated.get("/set?v=b"), "user").Value
	assert.Equal(t, "user=a", rotated.get("/get", "Cookie", "user="+oldCookie).Body, "old keys still verify")
	assert.Equal(t, "user=b", retired.get("/get", "Cookie", "user="+newCookie).Body)
	assert.True(t, strings.HasPrefix(retired.get("/get", "Cookie", "user="+oldCookie).Body, "invalid: "))
	assert.True(t, strings.HasPrefix(old.get("/get", "Cookie", "user="+newCookie).Body, "invalid: "))
}

func TestSecureCookieMaxAge(t *testing.T) {
	t.Parallel()
	keys := cookies.SingleKey("secret")
	past, err := cookies.NewTornadoCodec(keys, cookies.WithClock(func() time.Time {
		return time.Now().Add(-32 * 24 * time.Hour)
	}))
	require.NoError(t, err)
	now, err := cookies.NewTornadoCodec(keys)
	require.NoError(t, err)
	ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		c, _ := h.GetCookie("user")
		_, errDefault := h.GetSecureCookie("user")
		_, errLong := h.GetSecureCookieMaxAge("user", 40*24*time.Hour)
		assert.ErrorIs(t, errDefault, cookies.ErrExpired, "31 days by default")
		assert.NoError(t, errLong)
		v, err := h.DecodeSignedValue("user", c, 40*24*time.Hour)
		if err != nil {
			return err
		}
		return h.Write(v)
	})), tornago.Settings{CookieCodec: now})
	v, err := past.Encode("user", []byte("old"))
	require.NoError(t, err)
	assert.Equal(t, "old", ta.get("/", "Cookie", "user="+v).Body)
}

func TestSecureCookieNeedsSecret(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		err := h.SetSecureCookie("a", "b")
		assert.ErrorIs(t, err, tornago.ErrMissingSetting)
		_, err = h.GetSecureCookie("a")
		assert.ErrorIs(t, err, tornago.ErrMissingSetting)
		return err
	})), tornago.Settings{})
	assert.Equal(t, 500, ta.get("/", "Cookie", "a=b").StatusCode)
}

func TestCookieSettingsErrors(t *testing.T) {
	t.Parallel()
	for _, s := range []tornago.Settings{
		{CookieSecret: "a", CookieSecrets: map[int]string{0: "b"}},
		{CookieSecrets: map[int]string{0: "b"}, KeyVersion: 1},
		{CookieSecrets: map[int]string{-1: "b"}, KeyVersion: -1},
		// A codec carries its keys: a secret beside it would be ignored.
		{CookieSecret: "a", CookieCodec: tornadoCodec(t)},
		{CookieSecrets: map[int]string{0: "b"}, CookieCodec: tornadoCodec(t)},
	} {
		_, err := tornago.NewApplication(nil, s)
		assert.Error(t, err, "%+v", s)
	}
	_, err := tornago.NewApplication(nil, tornago.Settings{CookieSecret: "a", CookieCodec: tornadoCodec(t)})
	assert.ErrorContains(t, err, "set it or CookieSecret/CookieSecrets, not both")
}

func tornadoCodec(t *testing.T) cookies.Codec {
	c, err := cookies.NewTornadoCodec(cookies.SingleKey("secret"))
	require.NoError(t, err)
	return c
}

// A cookie a Tornado application set, read with the default codec: the
// error (logged, here written back) says what to change.
func TestSecureCookieFromTornadoNamesTheCodec(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		_, err := h.GetSecureCookie("user")
		require.ErrorIs(t, err, cookies.ErrMalformed)
		return h.Write(err.Error())
	})), tornago.Settings{CookieSecret: "secret"})
	v, err := tornadoCodec(t).Encode("user", []byte("alice"))
	require.NoError(t, err)
	body := ta.get("/", "Cookie", "user="+v).Body
	assert.Contains(t, body, "a Tornado version 2 signed value")
	assert.Contains(t, body, "cookies.NewTornadoCodec")
}
