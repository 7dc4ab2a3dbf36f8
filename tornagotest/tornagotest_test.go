package tornagotest_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/tornagotest"
	"github.com/tornago/tornago/websocket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// loginPage sets the "user" secure cookie from a posted name, behind XSRF.
type loginPage struct{ tornago.RequestHandler }

func (h *loginPage) Get(...string) error { return h.Write(h.XSRFFormHTML()) }

func (h *loginPage) Post(...string) error {
	name, err := h.GetArgument("name")
	if err != nil {
		return err
	}
	if err := h.SetSecureCookie("user", name); err != nil {
		return err
	}
	return h.Redirect("/")
}

// greeter greets the signed-in user, sets a cookie on the 101, echoes, and
// closes with 4000 on "bye"; anonymous clients are refused with 401.
type greeter struct{ tornago.WebSocketHandler }

func (h *greeter) Open(...string) error {
	user, err := h.GetSecureCookie("user")
	if err != nil || user == "" {
		return tornago.HTTPError{Code: http.StatusUnauthorized, Message: "sign in first"}
	}
	if err := h.SetCookie("seen", "yes"); err != nil {
		return err
	}
	return h.WriteJSON(map[string]string{"hello": user})
}

func (h *greeter) OnMessage(m tornago.Message) error {
	if m.Text() == "bye" {
		return h.Close(4000, "see you")
	}
	return h.WriteMessage(m.Data, m.Binary)
}

func newApp(t *testing.T) *tornago.Application {
	app, err := tornago.NewApplication([]tornago.Route{
		{Pattern: `/login`, Handler: func() tornago.Handler { return &loginPage{} }},
		{Pattern: `/ws`, Handler: func() tornago.Handler { return &greeter{} }},
	}, tornago.Settings{CookieSecret: "kit-secret", XSRFCookies: true, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return app
}

func TestClientAsABrowser(t *testing.T) {
	srv := tornagotest.NewServer(t, newApp(t))
	browser := srv.Client()

	refused := browser.Refused("/ws", nil)
	assert.Equal(t, http.StatusUnauthorized, refused.StatusCode)
	assert.Contains(t, refused.Body, "Unauthorized")

	page := browser.Get("/login")
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.NotEmpty(t, browser.XSRFToken(), "the form's page set the _xsrf cookie")

	// Without the token the post is refused; PostForm adds it from the
	// cookie, as the page's form would.
	forged := tornagotest.NewClient(t, srv.URL)
	assert.Equal(t, http.StatusForbidden, forged.PostForm("/login", url.Values{"name": {"ann"}}).StatusCode)
	signedIn := browser.PostForm("/login", url.Values{"name": {"ann"}})
	require.Equal(t, http.StatusFound, signedIn.StatusCode, "redirects are returned, not followed")
	assert.Equal(t, "/", signedIn.Header.Get("Location"))
	require.NotNil(t, browser.Cookie("user"))

	ws := browser.MustDial("/ws", nil)
	var hello map[string]string
	ws.ReadJSON(&hello)
	assert.Equal(t, map[string]string{"hello": "ann"}, hello)
	assert.Equal(t, "yes", browser.Cookie("seen").Value, "the cookie set on the 101 is kept")
	ws.SendText("echo me")
	assert.Equal(t, "echo me", ws.ReadText())
	ws.SendJSON([]int{1, 2})
	assert.Equal(t, "[1,2]", ws.ReadText())
	ws.SendText("bye")
	ce := ws.ExpectClose()
	assert.Equal(t, websocket.StatusCode(4000), ce.Code)
	assert.Equal(t, "see you", ce.Reason)
}

// TestCrossOriginRefused: handshakes carry the base URL as Origin unless
// told otherwise, so the default origin check can be tested both ways.
func TestCrossOriginRefused(t *testing.T) {
	srv := tornagotest.NewServer(t, newApp(t))
	c := srv.Client()
	c.SetCookie(&http.Cookie{Name: "user", Value: "forged"})
	resp := c.Refused("/ws", &websocket.DialOptions{Header: http.Header{"Origin": {"http://evil.example"}}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, resp.Body, "Cross origin websockets not allowed")
}

// TestServerShutdownClosesWebSockets: a Server ends with
// Application.Shutdown, which closes open WebSockets with 1001.
func TestServerShutdownClosesWebSockets(t *testing.T) {
	ended := make(chan error, 1)
	outer := t
	t.Run("served", func(t *testing.T) {
		srv := tornagotest.NewServer(t, newApp(t))
		browser := tornagotest.NewClient(outer, srv.URL) // its connections outlive the subtest
		browser.Get("/login")
		browser.PostForm("/login", url.Values{"name": {"bo"}})
		ws := browser.MustDial("/ws", nil)
		ws.ReadText()
		go func() { // reads on, which answers the server's close frame
			_, _, err := ws.ReadMessage(context.Background())
			ended <- err
		}()
	}) // the subtest's cleanup shut the server down
	err := <-ended
	var ce *websocket.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, websocket.StatusGoingAway, ce.Code)
}
