// Package notifytest is what the tests of notify's cluster mode share: a
// page's sign-in and socket, over real HTTP and WebSocket connections to a
// notify server at a base URL (a process, or an httptest server).
package notifytest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/websocket"
)

var xsrfField = regexp.MustCompile(`name="_xsrf" value="([^"]+)"`)

// Login signs name in through base's form and returns the cookies, valid
// on every process that shares the cookie secrets.
func Login(t testing.TB, base, name string) []*http.Cookie {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "/login")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := xsrfField.FindSubmatch(page)
	require.NotNil(t, m, "the login form")
	resp, err = client.PostForm(base+"/login", url.Values{"_xsrf": {string(m[1])}, "name": {name}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	u, _ := url.Parse(base)
	return jar.Cookies(u)
}

// Frame is a frame of the hub's wire protocol, or (Tornago "") a push.
type Frame struct {
	Tornago   string `json:"tornago"`
	Data      string `json:"data"`
	Epoch     string `json:"epoch"`
	Offset    uint64 `json:"offset"`
	Recovered *bool  `json:"recovered"`
	Unread    int    `json:"unread"`
	Text      string `json:"text"`
}

// Tab is a page's socket.
type Tab struct {
	t testing.TB
	c *websocket.Conn
}

// OpenTab connects to base's /notifications as the page's script does,
// with the position to recover user's inbox from if since is set.
func OpenTab(t testing.TB, base string, cookies []*http.Cookie, user string, since *Frame) *Tab {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/notifications"
	if since != nil {
		pos, _ := json.Marshal(map[string]any{"inbox:" + user: map[string]any{"epoch": since.Epoch, "offset": since.Offset}})
		u += "?" + hub.SinceParam + "=" + url.QueryEscape(string(pos))
	}
	h := http.Header{"Origin": {base}}
	for _, c := range cookies {
		h.Add("Cookie", c.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Header: h})
	require.NoError(t, err)
	t.Cleanup(func() { c.CloseNow() })
	return &Tab{t, c}
}

// Read reads one frame (a publication's push is left in Data).
func (tb *Tab) Read() Frame {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := tb.c.ReadMessage(ctx)
	require.NoError(tb.t, err)
	var f Frame
	require.NoError(tb.t, json.Unmarshal(data, &f), "%s", data)
	return f
}

// TryRead reads one frame, waiting up to 10 seconds; ok is false when the
// connection ended or nothing came (the test then closes the tab).
func (tb *Tab) TryRead() (f Frame, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := tb.c.ReadMessage(ctx)
	if err != nil || json.Unmarshal(data, &f) != nil {
		return f, false
	}
	return f, true
}

// Close closes the tab's connection at once.
func (tb *Tab) Close() { tb.c.CloseNow() }

// Post notifies user through base's API with token, and returns the status.
func Post(t testing.TB, base, token, user, text string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"user": user, "text": text})
	req, err := http.NewRequest(http.MethodPost, base+"/notify", strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}
