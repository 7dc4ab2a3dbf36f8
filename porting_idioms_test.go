package tornago_test

// The Tornado idioms docs/porting.md ("Tornado idioms") translates, each
// tested over TCP through the test kit a porter would use.

import (
	"fmt"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/tornagotest"
	"github.com/tornago/tornago/websocket"
)

// appConfig is what a Tornado app keeps in self.settings["..."].
type appConfig struct{ greeting string }

// idiomPage shows get_argument(name, None), self.settings, request.host
// and request.protocol.
type idiomPage struct {
	tornago.RequestHandler
	cfg *appConfig // captured by the route's factory: self.settings["greeting"]
}

func (h *idiomPage) Get(...string) error {
	name, ok, err := h.LookupArgument("name") // get_argument("name", None)
	if err != nil {
		return err
	}
	who := "nobody asked" // None
	if ok {
		who = fmt.Sprintf("%q", name) // "" when sent empty
	}
	return h.Write(fmt.Sprintf("%s %s from %s://%s", h.cfg.greeting, who, h.Protocol(), h.Host()))
}

// idiomSocket shows close(code, reason) in open, calling the default
// check_origin from an override, and write_message(dict).
type idiomSocket struct{ tornago.WebSocketHandler }

func (h *idiomSocket) CheckOrigin(origin string) bool {
	// if origin == "https://partner.example": return True
	// return super().check_origin(origin)
	return origin == "https://partner.example" || h.WebSocketHandler.CheckOrigin(origin)
}

func (h *idiomSocket) Open(...string) error {
	if h.PathKwarg("room") == "closed" {
		return h.Close(4003, "room closed") // 101, then this close frame
	}
	return h.WriteJSON(map[string]string{"html": "<b>&amp;</b>"}) // write_message(dict)
}

func TestPortingIdioms(t *testing.T) {
	cfg := &appConfig{greeting: "hello"}
	app, err := tornago.NewApplication([]tornago.Route{
		{Pattern: `/page`, Handler: func() tornago.Handler { return &idiomPage{cfg: cfg} }},
		{Pattern: `/ws/(?P<room>\w+)`, Handler: func() tornago.Handler { return &idiomSocket{} }},
	}, tornago.Settings{Logger: slog.New(slog.DiscardHandler), TrustedProxies: []string{"127.0.0.1"}})
	require.NoError(t, err)
	srv := tornagotest.NewServer(t, app)
	browser := srv.Client()

	t.Run("get_argument(name, None), self.settings, request.host and protocol", func(t *testing.T) {
		for query, want := range map[string]string{
			"":          "hello nobody asked from http://" + srv.Addr,
			"?name=":    `hello "" from http://` + srv.Addr,
			"?name=ann": `hello "ann" from http://` + srv.Addr,
		} {
			page := browser.Get("/page" + query)
			require.Equal(t, http.StatusOK, page.StatusCode, query)
			assert.Equal(t, want, page.Body, query)
		}
		// Behind a trusted proxy, as Tornado's xheaders=True.
		page := browser.Fetch(http.MethodGet, "/page", nil, http.Header{
			"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"chat.example"}})
		assert.Equal(t, "hello nobody asked from https://chat.example", page.Body)
	})

	t.Run("close(code, reason) in open", func(t *testing.T) {
		ws, resp, err := browser.Dial("/ws/closed", nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		ce := ws.ExpectClose()
		assert.Equal(t, websocket.StatusCode(4003), ce.Code)
		assert.Equal(t, "room closed", ce.Reason)
	})

	t.Run("write_message(dict) encodes as json_encode", func(t *testing.T) {
		ws := browser.MustDial("/ws/lobby", nil)
		assert.Equal(t, `{"html":"<b>&amp;<\/b>"}`, ws.ReadText())
	})

	t.Run("check_origin calling the default", func(t *testing.T) {
		browser.MustDial("/ws/lobby", nil) // same origin: the default allows it
		partner := http.Header{"Origin": {"https://partner.example"}}
		browser.MustDial("/ws/lobby", &websocket.DialOptions{Header: partner})
		evil := http.Header{"Origin": {"https://evil.example"}}
		assert.Equal(t, http.StatusForbidden, browser.Refused("/ws/lobby", &websocket.DialOptions{Header: evil}).StatusCode)
	})
}
