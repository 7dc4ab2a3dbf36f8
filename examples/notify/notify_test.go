package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/websocket"
)

// Cookie secrets of the test servers: oldKeys before the rotation,
// rotatedKeys during it (old still verifies, new signs), newKeys after.
const (
	oldKeys     = "1=old-secret-for-the-tests-0123456789abcdef"
	rotatedKeys = oldKeys + ",2=new-secret-for-the-tests-0123456789abcdef"
	newKeys     = "2=new-secret-for-the-tests-0123456789abcdef"
)

// origin is the pages' origin, which a browser sends with the handshake.
// push is what a page's socket receives (notifyserver's push).
type push struct {
	Text   string `json:"text,omitempty"`
	Unread int    `json:"unread"`
}

// userCookie is the secure cookie holding the signed-in user's name.
const userCookie = "user"

func (s *server) origin() string { return "http://" + s.Addr }

// do sends a request without following redirects and returns the
// response with its body read.
func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// get fetches path with the given cookies.
func get(t *testing.T, s *server, path string, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.origin()+path, nil)
	require.NoError(t, err)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return do(t, req)
}

// postForm posts form to path with the given cookies.
func postForm(t *testing.T, s *server, path string, form url.Values, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.origin()+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return do(t, req)
}

var xsrfField = regexp.MustCompile(`<input type="hidden" name="_xsrf" value="([^"]+)"/>`)

// xsrf returns the _xsrf cookie a page set and the token of its form.
func xsrf(t *testing.T, resp *http.Response, page string) (*http.Cookie, string) {
	t.Helper()
	m := xsrfField.FindStringSubmatch(page)
	require.NotNil(t, m, "the page has a form with the _xsrf field")
	for _, c := range resp.Cookies() {
		if c.Name == "_xsrf" {
			return c, m[1]
		}
	}
	// The request carried the cookie already: the field masks its token.
	return nil, m[1]
}

// cookieNamed returns the response's cookie name, failing without it.
func cookieNamed(t *testing.T, resp *http.Response, name string) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", name, resp.Header["Set-Cookie"])
	return nil
}

// login signs name in through the form, as a browser does, and returns
// the "user" cookie and the _xsrf cookie.
func login(t *testing.T, s *server, name string) (user, xsrfCookie *http.Cookie) {
	t.Helper()
	resp, page := get(t, s, "/login")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	xsrfCookie, token := xsrf(t, resp, page)
	require.NotNil(t, xsrfCookie)
	resp, _ = postForm(t, s, "/login", url.Values{"_xsrf": {token}, "name": {name}, "next": {"/"}}, xsrfCookie)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/", resp.Header.Get("Location"))
	return cookieNamed(t, resp, userCookie), xsrfCookie
}

// dialTab opens /notifications as a signed-in page does: the page's
// Origin and the cookies.
func dialTab(t *testing.T, s *server, cookies ...*http.Cookie) (*websocket.Conn, error) {
	t.Helper()
	h := http.Header{"Origin": {s.origin()}}
	for _, c := range cookies {
		h.Add("Cookie", c.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+s.Addr+"/notifications", &websocket.DialOptions{Header: h})
	if err == nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, err
}

// openTab is dialTab that must succeed; it returns the unread count the
// server sends first.
func openTab(t *testing.T, s *server, user *http.Cookie) (*websocket.Conn, int) {
	t.Helper()
	c, err := dialTab(t, s, user)
	require.NoError(t, err)
	p := readPush(t, c)
	require.Empty(t, p.Text, "the first message has only the count")
	return c, p.Unread
}

// readPush reads the next push as the page's script sees it: frames of
// the hub's wire protocol are unwrapped ("pub") or skipped ("joined").
func readPush(t *testing.T, c *websocket.Conn) push {
	t.Helper()
	for {
		data, f := readFrame(t, c)
		if f.Tornago == "pub" {
			data = []byte(f.Data)
		} else if f.Tornago != "" {
			continue
		}
		var p push
		require.NoError(t, json.Unmarshal(data, &p), "%s", data)
		return p
	}
}

// wireFrame is a frame of the hub's wire protocol; Tornago is "" for the
// application's own messages.
type wireFrame struct {
	Tornago   string `json:"tornago"`
	Data      string `json:"data"`
	Epoch     string `json:"epoch"`
	Offset    uint64 `json:"offset"`
	Recovered *bool  `json:"recovered"`
}

// readFrame reads a message and decodes it as a wire frame.
func readFrame(t *testing.T, c *websocket.Conn) ([]byte, wireFrame) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	var f wireFrame
	require.NoError(t, json.Unmarshal(data, &f), "%s", data)
	return data, f
}

// callNotify posts body to /notify with authorization (a whole header
// value, "" for none) and returns the status, the response and its JSON.
func callNotify(t *testing.T, s *server, authorization, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.origin()+"/notify", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, raw := do(t, req)
	assert.Equal(t, "application/json; charset=UTF-8", resp.Header.Get("Content-Type"), raw)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &out), raw)
	return resp, out
}

// notifyUser pushes text to user with the right token and returns the
// answer's delivered and unread counts.
func notifyUser(t *testing.T, s *server, user, text string) (delivered, unread int) {
	t.Helper()
	body, err := json.Marshal(map[string]string{"user": user, "text": text})
	require.NoError(t, err)
	resp, out := callNotify(t, s, "Bearer "+testToken, string(body))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", out)
	return int(out["delivered"].(float64)), int(out["unread"].(float64))
}

func TestLogin(t *testing.T) {
	t.Parallel()
	s := startServer(t, oldKeys)

	// Anonymous visitors are sent to the form, and back after it.
	resp, _ := get(t, s, "/")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "/login?next=%2F", resp.Header.Get("Location"))
	resp, page := get(t, s, "/login?next=%2F")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, page, `<input type="hidden" name="next" value="/">`)
	assert.Contains(t, page, `<title>Sign in — notify</title>`, "login.html fills base.html's title block")
	xsrfCookie, token := xsrf(t, resp, page)

	// The form is XSRF-protected.
	resp, _ = postForm(t, s, "/login", url.Values{"name": {"alice"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = postForm(t, s, "/login", url.Values{"name": {"alice"}, "_xsrf": {token}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "token without its cookie")

	// And validated.
	resp, page = postForm(t, s, "/login", url.Values{"name": {"  "}, "_xsrf": {token}}, xsrfCookie)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, page, "name is required")
	resp, page = postForm(t, s, "/login", url.Values{"name": {strings.Repeat("x", 65)}, "_xsrf": {token}}, xsrfCookie)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, page, "name must be at most 64")

	// Off-site "next" values are not followed.
	for _, next := range []string{"//evil.example/", "https://evil.example/", `/\evil.example`} {
		resp, _ = postForm(t, s, "/login", url.Values{"name": {"alice"}, "next": {next}, "_xsrf": {token}}, xsrfCookie)
		require.Equal(t, http.StatusFound, resp.StatusCode)
		assert.Equal(t, "/", resp.Header.Get("Location"), next)
	}

	user, _ := login(t, s, `<alice & "bob">`)
	assert.True(t, user.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, user.SameSite)
	resp, page = get(t, s, "/", user)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, page, `<span id="user">&lt;alice &amp; &#34;bob&#34;&gt;</span>`)
	assert.Contains(t, page, `<title>Notifications for &lt;alice &amp; &#34;bob&#34;&gt;</title>`,
		"index.html fills the same blocks as login.html, independently")
	assert.NotContains(t, page, "Sign in")
	assert.Regexp(t, `src="/static/notify\.js\?v=[0-9a-f]+"`, page)
	assert.Regexp(t, `src="/reconnect\.js\?v=[0-9a-f]+"`, page, "the page loads tornago's reconnecting client")
	_, js := get(t, s, "/static/notify.js")
	assert.Contains(t, js, `new ReconnectingWebSocket("/notifications"`)
	resp, rjs := get(t, s, "/reconnect.js")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, rjs, "class ReconnectingWebSocket")

	// A forged cookie is nobody.
	forged := *user
	forged.Value = strings.ToUpper(forged.Value[:10]) + forged.Value[10:]
	resp, _ = get(t, s, "/", &forged)
	assert.Equal(t, http.StatusFound, resp.StatusCode)
}

func TestPushReachesEveryTab(t *testing.T) {
	t.Parallel()
	s := startServer(t, oldKeys)
	alice, _ := login(t, s, "alice")
	bob, _ := login(t, s, "bob")
	tab1, unread := openTab(t, s, alice)
	assert.Zero(t, unread)
	tab2, _ := openTab(t, s, alice)
	bobTab, _ := openTab(t, s, bob)

	delivered, unread := notifyUser(t, s, "alice", "build <b>failed</b> & more")
	assert.Equal(t, 2, delivered)
	assert.Equal(t, 1, unread)
	for _, tab := range []*websocket.Conn{tab1, tab2} {
		assert.Equal(t, push{Text: "build <b>failed</b> & more", Unread: 1}, readPush(t, tab))
	}
	delivered, _ = notifyUser(t, s, "bob", "for bob")
	assert.Equal(t, 1, delivered)
	// Bob's first push is his own: alice's went to alice only.
	assert.Equal(t, push{Text: "for bob", Unread: 1}, readPush(t, bobTab))

	// A closed tab is no longer pushed to.
	require.NoError(t, tab2.Close(websocket.StatusNormalClosure, ""))
	require.Eventually(t, func() bool {
		delivered, _ := notifyUser(t, s, "alice", "again")
		return delivered == 1
	}, 5*time.Second, 20*time.Millisecond)
}

func TestAnonymousSocketGets401(t *testing.T) {
	t.Parallel()
	s := startServer(t, oldKeys)
	other := startServer(t, newKeys)
	user, _ := login(t, s, "alice")
	elsewhere, _ := login(t, other, "alice")
	forged := *user
	forged.Value = "x" + forged.Value

	tests := []struct {
		name    string
		cookies []*http.Cookie
	}{
		{"no cookie", nil},
		{"forged cookie", []*http.Cookie{&forged}},
		{"cookie of another secret", []*http.Cookie{elsewhere}},
	}
	for _, tt := range tests {
		_, err := dialTab(t, s, tt.cookies...)
		var de *websocket.DialError
		require.ErrorAs(t, err, &de, tt.name)
		require.NotNil(t, de.Response, tt.name)
		assert.Equal(t, http.StatusUnauthorized, de.Response.StatusCode, tt.name)
		assert.NotEmpty(t, de.Response.Header.Get("WWW-Authenticate"), "%s: a 401 carries a challenge", tt.name)
	}
	// Signed in, the handshake succeeds.
	_, unread := openTab(t, s, user)
	assert.Zero(t, unread)
}

func TestNotifyValidation(t *testing.T) {
	t.Parallel()
	s := startServer(t, oldKeys)
	tests := []struct {
		name, body string
		fields     []string // field:rule of the expected errors
	}{
		{"empty object", `{}`, []string{"user:required", "text:required"}},
		{"no text", `{"user": "alice"}`, []string{"text:required"}},
		{"text too long", `{"user": "alice", "text": "` + strings.Repeat("x", 1001) + `"}`, []string{"text:max"}},
		{"user too long", `{"user": "` + strings.Repeat("u", 65) + `", "text": "hi"}`, []string{"user:max"}},
		{"wrong type", `{"user": 7, "text": "hi"}`, []string{"user:type"}},
		{"not JSON", `user=alice`, nil},
	}
	for _, tt := range tests {
		resp, out := callNotify(t, s, "Bearer "+testToken, tt.body)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, tt.name)
		assert.EqualValues(t, 400, out["code"], tt.name)
		var got []string
		for _, f := range out["fields"].([]any) {
			f := f.(map[string]any)
			got = append(got, f["field"].(string)+":"+f["rule"].(string))
		}
		assert.Equal(t, tt.fields, got, tt.name)
	}
}

func TestNotifyNeedsToken(t *testing.T) {
	t.Parallel()
	s := startServer(t, oldKeys)
	const body = `{"user": "alice", "text": "hi"}`
	tests := []struct {
		name, authorization, challenge string
	}{
		{"no header", "", `Bearer realm="notify"`},
		{"basic", "Basic dXNlcjpwYXNz", `Bearer realm="notify"`},
		{"empty token", "Bearer ", `Bearer realm="notify"`},
		{"wrong token", "Bearer wrong", `Bearer realm="notify", error="invalid_token"`},
		{"token with a suffix", "Bearer " + testToken + "x", `Bearer realm="notify", error="invalid_token"`},
	}
	for _, tt := range tests {
		resp, out := callNotify(t, s, tt.authorization, body)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, tt.name)
		assert.Equal(t, tt.challenge, resp.Header.Get("WWW-Authenticate"), tt.name)
		assert.Equal(t, map[string]any{"code": 401.0, "message": "Unauthorized"}, out, tt.name)
	}
	// The token is checked before the body: no validation details leak.
	resp, _ := callNotify(t, s, "Bearer wrong", `{}`)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	// The scheme is case-insensitive, and no XSRF token is needed.
	resp, out := callNotify(t, s, "bearer "+testToken, body)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, map[string]any{"delivered": 0.0, "unread": 1.0}, out)
}

func TestUnreadSurvivesReconnect(t *testing.T) {
	t.Parallel()
	s := startServer(t, oldKeys)
	user, _ := login(t, s, "alice")

	// Notifications while no tab is open are counted.
	for _, text := range []string{"one", "two"} {
		delivered, _ := notifyUser(t, s, "alice", text)
		assert.Zero(t, delivered)
	}
	tab, unread := openTab(t, s, user)
	assert.Equal(t, 2, unread)
	require.NoError(t, tab.Close(websocket.StatusNormalClosure, ""))
	tab, unread = openTab(t, s, user)
	assert.Equal(t, 2, unread, "after a reconnect")
	other, _ := openTab(t, s, user)

	// "Mark all read" from the page: XSRF-protected, then every tab hears it.
	resp, page := get(t, s, "/", user)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	xsrfCookie, token := xsrf(t, resp, page)
	require.NotNil(t, xsrfCookie)
	resp, _ = postForm(t, s, "/read", url.Values{}, user, xsrfCookie)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "without the token")
	resp, _ = postForm(t, s, "/read", url.Values{"_xsrf": {token}}, xsrfCookie)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "without the user")
	resp, _ = postForm(t, s, "/read", url.Values{"_xsrf": {token}}, user, xsrfCookie)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	for _, c := range []*websocket.Conn{tab, other} {
		assert.Equal(t, push{Unread: 0}, readPush(t, c))
	}
	require.NoError(t, tab.Close(websocket.StatusNormalClosure, ""))
	_, unread = openTab(t, s, user)
	assert.Zero(t, unread)
}

func TestCookieKeyRotation(t *testing.T) {
	t.Parallel()
	before := startServer(t, oldKeys)
	during := startServer(t, rotatedKeys)
	after := startServer(t, newKeys)

	oldCookie, _ := login(t, before, "alice")
	// During the rotation the cookie signed with key 1 still works, on
	// the page and on the socket.
	resp, _ := get(t, during, "/", oldCookie)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	_, err := dialTab(t, during, oldCookie)
	require.NoError(t, err)
	// New sign-ins are signed with key 2: the old key set cannot read them.
	newCookie, _ := login(t, during, "bob")
	resp, _ = get(t, before, "/", newCookie)
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	resp, _ = get(t, after, "/", newCookie)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	// Once key 1 is retired, its cookies are nobody's.
	resp, _ = get(t, after, "/", oldCookie)
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	_, err = dialTab(t, after, oldCookie)
	var de *websocket.DialError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, http.StatusUnauthorized, de.Response.StatusCode)
}

func TestLogout(t *testing.T) {
	t.Parallel()
	s := startServer(t, oldKeys)
	user, xsrfCookie := login(t, s, "alice")
	resp, page := get(t, s, "/", user, xsrfCookie)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, token := xsrf(t, resp, page)
	resp, _ = postForm(t, s, "/logout", url.Values{"_xsrf": {token}}, user, xsrfCookie)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "/login", resp.Header.Get("Location"))
	cleared := cookieNamed(t, resp, userCookie)
	assert.Empty(t, cleared.Value)
	assert.Negative(t, cleared.MaxAge)
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	s := startServer(t, oldKeys)
	user, _ := login(t, s, "alice")
	tab, _ := openTab(t, s, user)
	require.NoError(t, s.Cmd.Process.Signal(syscall.SIGTERM))
	_, _, err := tab.ReadMessage(context.Background())
	var ce *websocket.CloseError
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, websocket.StatusGoingAway, ce.Code)
	select {
	case <-s.Exited:
	case <-time.After(10 * time.Second):
		t.Fatal("server still running 10s after SIGTERM")
	}
	require.NoError(t, s.Err, "exit status")
	assert.NotContains(t, s.Log.String(), "level=ERROR")
	assert.Contains(t, s.Log.String(), `msg="notify: stopped"`)
}
