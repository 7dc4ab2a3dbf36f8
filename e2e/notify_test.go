package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// notifyToken is the API token the tests start examples/notify with.
const notifyToken = "e2e-test-token"

// startNotify runs examples/notify with a known token and cookie secrets
// (default "1=e2e-cookie-secret"), its templates and static files from the
// source tree, and any more flags.
func startNotify(t *testing.T, secrets string, flags ...string) *server {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "examples", "notify"))
	require.NoError(t, err)
	if secrets == "" {
		secrets = "1=e2e-cookie-secret"
	}
	return startExample(t, "notify", nil, append([]string{"-dir", dir, "-token", notifyToken, "-cookie-secrets", secrets}, flags...)...)
}

// signIn loads the site's page in p, which sends an anonymous visitor to
// the sign-in form; it fills in name and submits the form as a user does
// (Enter in the field), and checks that it lands on the user's page.
func signIn(p *page, s *server, name string) {
	p.t.Helper()
	p.navigate(s.httpURL("/"))
	loc := run(p, chromedp.Location())
	require.True(p.t, strings.HasPrefix(loc, s.httpURL("/login")), "page %s: an anonymous visit to / ended at %s, want /login", p.name, loc)
	resp := submitSignIn(p, name)
	require.EqualValues(p.t, http.StatusOK, resp.Status, "page %s: signing in", p.name)
	require.Equal(p.t, s.httpURL("/"), resp.URL, "page %s: where signing in ends", p.name)
	require.Equal(p.t, name, run(p, chromedp.Text(chromedp.ID("user"))), "page %s: the signed-in user", p.name)
}

// submitSignIn types name into the sign-in form on p and presses Enter,
// and returns the response of the page the browser lands on.
func submitSignIn(p *page, name string) *network.Response {
	p.t.Helper()
	ctx, cancel := p.timeout()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.SendKeys(chromedp.CSS(`#loginform input[name="name"]`), name+kb.Enter))
	require.NoError(p.t, err, "page %s: signing in", p.name)
	return resp
}

// TestNotifySignInRedirect: the sign-in form returns the browser to the
// local page it came for, and never to another site, whatever form of
// URL "next" holds (browsers read /\host as //host).
func TestNotifySignInRedirect(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	s := startNotify(t, "")
	b := newBrowser(t)
	p := b.newPage(t, "sign-in")
	tests := []struct{ next, want string }{
		{"/?tab=2", "/?tab=2"},
		{"//example.org/x", "/"},
		{`/\example.org/x`, "/"},
		{"https://example.org/", "/"},
		{"javascript:alert(1)", "/"},
	}
	for _, tt := range tests {
		p.navigate(s.httpURL("/login?next=" + url.QueryEscape(tt.next)))
		resp := submitSignIn(p, "alice")
		assert.Equal(t, s.httpURL(tt.want), resp.URL, "next=%s", tt.next)
		assert.EqualValues(t, http.StatusOK, resp.Status, "next=%s", tt.next)
	}
}

// waitUnread waits until p's socket is connected and the page shows n
// unread notifications.
func waitUnread(p *page, n int) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf(`document.getElementById("status").textContent === "" &&
		document.getElementById("unread").textContent === "%d"`, n),
		fmt.Sprintf("the page to be connected with %d unread", n))
}

// notifyPage is what a notify page shows.
type notifyPage struct {
	Unread string   `json:"unread"`
	Items  []string `json:"items"`    // the notifications' text, newest first
	Markup int      `json:"elements"` // elements inside the notifications
}

func readNotifyPage(p *page) notifyPage {
	p.t.Helper()
	return eval[notifyPage](p, `({
		unread: document.getElementById("unread").textContent,
		items: Array.from(document.querySelectorAll("#notifications li"), (li) => li.textContent),
		elements: document.querySelectorAll("#notifications li *").length,
	})`)
}

// postNotify is the back end: POST /notify with the bearer token. It
// returns the status and the decoded JSON answer.
func postNotify(t *testing.T, s *server, token, user, text string) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"user": user, "text": text})
	ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.httpURL("/notify"), strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Close = true // no idle connection left behind for goleak
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var answer map[string]any
	if err := json.Unmarshal(raw, &answer); err != nil {
		t.Fatalf("POST /notify: status %d, body %q is not JSON", resp.StatusCode, raw)
	}
	return resp.StatusCode, answer
}

// TestNotifyPush: a user signs in through the form, the page's socket
// connects, and a back-end POST /notify reaches every open tab of the user
// (shown as text, never markup); the unread count survives a reload; a
// wrong token pushes nothing; "Mark all read" (XSRF-protected) clears every
// tab.
func TestNotifyPush(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	s := startNotify(t, "")
	b := newBrowser(t)
	first := b.newPage(t, "alice 1")
	signIn(first, s, "alice")
	waitUnread(first, 0)
	second := b.newPage(t, "alice 2") // same profile, so already signed in
	second.navigate(s.httpURL("/"))
	waitUnread(second, 0)

	text := `<i>deploy</i> finished & "ok"`
	status, answer := postNotify(t, s, notifyToken, "alice", text)
	require.Equal(t, http.StatusOK, status, "POST /notify: %v", answer)
	require.Equal(t, map[string]any{"delivered": 2.0, "unread": 1.0}, answer, "POST /notify to alice's two tabs")
	for _, p := range []*page{first, second} {
		waitUnread(p, 1)
		assert.Equal(t, notifyPage{Unread: "1", Items: []string{text}}, readNotifyPage(p),
			"page %s shows the notification as text", p.name)
	}

	status, answer = postNotify(t, s, "wrong", "alice", "forged")
	assert.Equal(t, http.StatusUnauthorized, status, "POST /notify with a wrong token: %v", answer)
	status, answer = postNotify(t, s, notifyToken, "bob", "for someone else")
	assert.Equal(t, http.StatusOK, status, "POST /notify for bob: %v", answer)
	status, answer = postNotify(t, s, notifyToken, "alice", "second")
	require.Equal(t, http.StatusOK, status, "POST /notify: %v", answer)
	require.Equal(t, 2.0, answer["unread"], "POST /notify: %v", answer)
	waitUnread(first, 2)
	assert.Equal(t, []string{"second", text}, readNotifyPage(first).Items, "alice's notifications, newest first")

	// The count lives on the server: a reloaded tab reconnects with it.
	second.do(chromedp.Reload())
	waitUnread(second, 2)

	// "Mark all read" posts /read with the form's XSRF token; every tab
	// hears of it.
	first.do(chromedp.Click(chromedp.CSS(`#readform input[type="submit"]`)))
	waitUnread(first, 0)
	waitUnread(second, 0)
	assert.Zero(t, eval[int](first, `document.querySelectorAll("#notifications li.new").length`),
		"notifications still marked new after Mark all read")
	s.waitLog(t, "204 POST /read")
	// The same post from the page without the token is refused.
	assert.Equal(t, http.StatusForbidden, eval[int](first, `fetch("/read", {method: "POST"}).then((r) => r.status)`),
		"POST /read without the XSRF token")
}

// TestNotifyAnonymousRefused: a page without the sign-in cookie that opens
// the notification socket is refused with 401 before the 101. The page
// sees only an error and close code 1006; Chromium's console report and a
// Go client without the cookie show the 401, and the same Go client with
// the browser's cookie is let in.
func TestNotifyAnonymousRefused(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	s := startNotify(t, "")
	b := newBrowser(t)
	alice := b.newPage(t, "alice")
	signIn(alice, s, "alice")
	waitUnread(alice, 0)

	// A separate browser context has its own, empty cookie jar.
	anon := b.newPage(t, "anonymous", chromedp.WithNewBrowserContext())
	anon.navigate(s.httpURL("/login")) // the site's origin, signed out
	eval[chromedp.Void](anon, `(() => {
		window.outcome = {events: []};
		const ws = new WebSocket("ws://" + location.host + "/notifications");
		ws.onopen = () => window.outcome.events.push("open");
		ws.onmessage = (e) => window.outcome.events.push("message " + e.data);
		ws.onerror = () => window.outcome.events.push("error");
		ws.onclose = (e) => Object.assign(window.outcome, {code: e.code, wasClean: e.wasClean, done: true});
	})()`)
	anon.waitJS(`window.outcome.done`, "the socket to close")
	got := eval[outcome](anon, `window.outcome`)
	assert.Equal(t, outcome{Events: []string{"error"}, Code: 1006, WasClean: false, Done: true}, got,
		"the page sees the refusal only as an error and an unclean close")
	// Chromium's words for a 401 to a WebSocket handshake (it reports other
	// refusals as "Unexpected response code: N").
	anon.waitJSConsole("HTTP Authentication failed; no valid credentials available", "the browser's report of the 401")
	s.waitLog(t, "401 GET /notifications")

	origin := s.httpURL("")
	status, _ := dialStatus(t, s, "/notifications", origin)
	assert.Equal(t, http.StatusUnauthorized, status, "Go client without a cookie")
	cookies := browserCookies(t, alice, s.httpURL("/"))
	status, _ = dialStatus(t, s, "/notifications", origin, cookies...)
	assert.Equal(t, http.StatusSwitchingProtocols, status, "Go client with the signed-in browser's cookies")
}

// browserCookies reads the cookies p's browser context holds for rawURL
// (HttpOnly ones included, which the page's script cannot see).
func browserCookies(t *testing.T, p *page, rawURL string) []*http.Cookie {
	t.Helper()
	ctx, cancel := p.timeout()
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{rawURL}})
	require.NoError(t, err, "reading the browser's cookies")
	var cookies []*http.Cookie
	for _, c := range res.Cookies {
		cookies = append(cookies, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	require.NotEmpty(t, cookies, "the signed-in browser's cookies")
	return cookies
}

// TestNotifyKeyRotation: a browser signed in under cookie key 1 stays
// signed in when the server restarts with keys 1 and 2 (its open page
// reconnects by itself, reloads since the new process cannot recover what
// it missed, and gets pushes), and is signed out once key 1 is
// retired: its cookie no longer opens the socket (401) and / sends it to
// the sign-in form.
func TestNotifyKeyRotation(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	const oldKey, newKey = "1=old-secret", "2=new-secret"
	first := startNotify(t, oldKey)
	addr := first.Addr
	b := newBrowser(t)
	p := b.newPage(t, "alice")
	signIn(p, first, "alice")
	waitUnread(p, 0)
	cookies := browserCookies(t, p, first.httpURL("/"))

	// Restart on the same address with both keys; the page's script
	// reconnects by itself, after a back-off that grows while the server
	// is down, and, since a new process's history (memory) cannot tell
	// what it missed, reloads.
	eval[chromedp.Void](p, `window.notReloaded = true`)
	first.Stop(t)
	p.waitJS(`document.getElementById("status").textContent !== ""`, "the page to notice the restart")
	rotated := startNotify(t, oldKey+","+newKey, "-addr", addr)
	waitReloaded(p, "the page to reconnect and reload")
	waitUnread(p, 0)
	status, answer := postNotify(t, rotated, notifyToken, "alice", "after rotation")
	require.Equal(t, http.StatusOK, status, "POST /notify after the rotation: %v", answer)
	require.Equal(t, 1.0, answer["delivered"], "the reconnected tab takes the push: %v", answer)
	waitUnread(p, 1)

	// Key 1 retired: the same cookie is refused.
	rotated.Stop(t)
	retired := startNotify(t, newKey, "-addr", addr)
	status, _ = dialStatus(t, retired, "/notifications", retired.httpURL(""), cookies...)
	assert.Equal(t, http.StatusUnauthorized, status, "Go client with the key-1 cookie after key 1 was retired")
	p.navigate(retired.httpURL("/"))
	loc := run(p, chromedp.Location())
	assert.True(t, strings.HasPrefix(loc, retired.httpURL("/login")), "with key 1 retired, / ended at %s, want the sign-in form", loc)
	retired.waitLog(t, "invalid user cookie")
	signIn(p, retired, "alice")
	waitUnread(p, 0)
}
