package tornago_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/websocket"
)

// panel is a control panel page: anyone may look, only a user may change
// it, as a Tornado handler with @authenticated on post only.
type panel struct{ tornago.RequestHandler }

func (h *panel) GetCurrentUser() (any, error) {
	name, _ := h.GetCookie("user")
	return name, nil
}

func (h *panel) Get(...string) error  { return h.Write("status page") }
func (h *panel) Post(...string) error { return h.Write("changed") }

// panelWithHead has its own Head, which Authenticated(..., "GET") leaves
// alone, as @authenticated on get leaves head.
type panelWithHead struct{ panel }

func (h *panelWithHead) Head(...string) error { return nil }

func TestAuthenticatedPerMethod(t *testing.T) {
	t.Parallel()
	newPanel := func() tornago.Handler { return &panel{} }
	ta := newTestApp(t, []tornago.Route{
		{Pattern: `/panel`, Handler: tornago.Authenticated(newPanel, http.MethodPost)},
		{Pattern: `/private`, Handler: tornago.Authenticated(newPanel, "get")},
		{Pattern: `/head`, Handler: tornago.Authenticated(func() tornago.Handler { return &panelWithHead{} }, "GET")},
		{Pattern: `/nested`, Handler: tornago.Authenticated(tornago.Authenticated(newPanel), "POST")},
		{Pattern: `/union`, Handler: tornago.Authenticated(tornago.Authenticated(newPanel, "GET"), "POST")},
	}, tornago.Settings{LoginURL: "/login"})

	tests := []struct {
		name     string
		resp     response
		status   int
		location string
		body     string
	}{
		{"anonymous GET of a public verb", ta.get("/panel"), 200, "", "status page"},
		{"anonymous POST", ta.do("POST", "/panel", ""), 403, "", errorPage("403", "Forbidden")},
		{"anonymous AJAX POST", ta.do("POST", "/panel", "{}", "X-Requested-With", "XMLHttpRequest"), 403, "", errorPage("403", "Forbidden")},
		{"logged-in POST", ta.do("POST", "/panel", "", "Cookie", "user=ann"), 200, "", "changed"},
		{"anonymous GET of a protected verb", ta.get("/private?a=1"), 302, "/login?next=" + url.QueryEscape("/private?a=1"), ""},
		{"HEAD runs Get, so GET protects it", ta.do("HEAD", "/private", ""), 302, "/login?next=%2Fprivate", ""},
		{"POST not listed", ta.do("POST", "/private", ""), 200, "", "changed"},
		{"a Head of its own is not GET", ta.do("HEAD", "/head", ""), 200, "", ""},
		{"an inner wrapper of all verbs stays", ta.get("/nested"), 302, "/login?next=%2Fnested", ""},
		{"nested wrappers add up: GET", ta.get("/union"), 302, "/login?next=%2Funion", ""},
		{"nested wrappers add up: POST", ta.do("POST", "/union", ""), 403, "", errorPage("403", "Forbidden")},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.status, tt.resp.StatusCode, tt.name)
		assert.Equal(t, tt.location, tt.resp.Header.Get("Location"), tt.name)
		assert.Equal(t, tt.body, tt.resp.Body, tt.name)
	}
	assert.PanicsWithValue(t, `tornago: Authenticated: "PSOT" is not an HTTP method a handler serves`, func() {
		tornago.Authenticated(newPanel, "PSOT")
	})
}

func TestIsNobody(t *testing.T) {
	t.Parallel()
	for _, v := range []any{nil, "", 0, 0.0, false, (*user)(nil), []string{}, map[string]int{}, []int(nil)} {
		assert.True(t, tornago.IsNobody(v), "%T %v", v, v)
	}
	for _, v := range []any{"ann", 1, true, &user{}, user{}, []string{""}} {
		assert.False(t, tornago.IsNobody(v), "%T %v", v, v)
	}
}

// The recipe of docs/porting.md for a Tornado BaseHandler shared by pages
// and sockets: the current user is Settings.GetCurrentUser, and other base
// helpers are functions of *tornago.RequestHandler, which every handler
// type has (a WebSocketHandler embeds one).
func sessionUser(h *tornago.RequestHandler) (any, error) {
	name, err := h.GetSecureCookie("user")
	if err != nil {
		return nil, nil // missing, forged or expired: nobody
	}
	return name, nil
}

func greeting(h *tornago.RequestHandler) string {
	u, _ := h.CurrentUser()
	if tornago.IsNobody(u) {
		return "hello stranger"
	}
	return "hello " + u.(string)
}

type homePage struct{ tornago.RequestHandler }

func (h *homePage) Get(...string) error { return h.Write(greeting(&h.RequestHandler)) }

type login struct{ tornago.RequestHandler }

func (h *login) Post(...string) error {
	name, err := h.GetArgument("name")
	if err != nil {
		return err
	}
	return h.SetSecureCookie("user", name)
}

type feedSocket struct{ tornago.WebSocketHandler }

func (h *feedSocket) Open(...string) error { return h.WriteText(greeting(&h.RequestHandler)) }

// adminPage has its own GetCurrentUser, which wins over the setting.
type adminPage struct{ homePage }

func (h *adminPage) GetCurrentUser() (any, error) { return "root", nil }

func TestCurrentUserHookSharedByPagesAndSockets(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, []tornago.Route{
		{Pattern: `/`, Handler: func() tornago.Handler { return &homePage{} }},
		{Pattern: `/admin`, Handler: func() tornago.Handler { return &adminPage{} }},
		{Pattern: `/login`, Handler: func() tornago.Handler { return &login{} }},
		{Pattern: `/feed`, Handler: func() tornago.Handler { return &feedSocket{} }},
		{Pattern: `/private-feed`, Handler: tornago.Authenticated(func() tornago.Handler { return &feedSocket{} })},
	}, tornago.Settings{CookieSecret: "s3cret", LoginURL: "/login", GetCurrentUser: sessionUser})
	t.Cleanup(func() { require.NoError(t, ta.app.Shutdown(context.Background())) })

	loggedIn := ta.postForm("/login", url.Values{"name": {"ann"}})
	require.Equal(t, 200, loggedIn.StatusCode, loggedIn.Body)
	cookie := "user=" + cookieFrom(t, loggedIn, "user").Value

	assert.Equal(t, "hello ann", ta.get("/", "Cookie", cookie).Body)
	assert.Equal(t, "hello stranger", ta.get("/").Body)
	assert.Equal(t, "hello stranger", ta.get("/", "Cookie", "user=forged").Body)
	assert.Equal(t, "hello root", ta.get("/admin").Body, "a handler's own GetCurrentUser wins")

	wsURL := "ws" + strings.TrimPrefix(ta.srv.URL, "http")
	for path, want := range map[string]string{"/feed": "hello ann", "/private-feed": "hello ann"} {
		c, resp, err := websocket.Dial(context.Background(), wsURL+path,
			&websocket.DialOptions{Header: http.Header{"Cookie": {cookie}}})
		require.NoError(t, err, path)
		require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		_, msg, err := c.ReadMessage(context.Background())
		require.NoError(t, err)
		assert.Equal(t, want, string(msg), path)
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	}
	_, resp, err := websocket.Dial(context.Background(), wsURL+"/private-feed", nil)
	require.Error(t, err, "an anonymous socket is refused before the 101")
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusFound, resp.StatusCode)
}
