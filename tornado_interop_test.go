package tornago_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/cookies"
	"github.com/tornago/tornago/internal/testenv"
)

// startTornado runs testdata/tornado_app.py and returns its base URL.
func startTornado(t *testing.T) string {
	t.Helper()
	py := testenv.Python(t, "tornado")
	tornado := testenv.StartChild(t, exec.Command(py, filepath.Join("testdata", "tornado_app.py")))
	port := strings.TrimSpace(tornado.Line(t, 30*time.Second))
	require.NotEmpty(t, port, "Tornado did not print its port")
	return "http://127.0.0.1:" + port
}

// fetch GETs or POSTs url with client and returns status and body.
func fetch(t *testing.T, client *http.Client, method, u, body string, header ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header
}

// TestTornadoInterop checks tornago against a running Tornado: secure
// cookies and XSRF tokens cross over in both directions through real
// handlers, and error pages and argument clean-up are byte-identical.
func TestTornadoInterop(t *testing.T) {
	t.Parallel()
	tornado := startTornado(t)
	codec, err := cookies.NewTornadoCodec(cookies.SingleKey("secret"))
	require.NoError(t, err)
	ta := newTestApp(t, []tornago.Route{
		{Pattern: `/set`, Handler: fn(func(h *funcHandler, _ ...string) error {
			name, _ := h.GetArgument("name")
			value, _ := h.GetArgument("value")
			return h.SetSecureCookie(name, value)
		})},
		{Pattern: `/get`, Handler: fn(func(h *funcHandler, _ ...string) error {
			name, _ := h.GetArgument("name")
			v, err := h.GetSecureCookie(name)
			if err != nil {
				return tornago.HTTPError{Code: 403, Err: err}
			}
			return h.Write(v)
		})},
		{Pattern: `/xsrf`, Handler: fn(func(h *funcHandler, _ ...string) error { return h.Write(h.XSRFToken()) })},
		{Pattern: `/error/(\d+)`, Handler: fn(func(h *funcHandler, args ...string) error {
			return tornago.Errorf(map[string]int{"400": 400, "404": 404, "418": 418, "503": 503}[args[0]], "a log message")
		})},
		{Pattern: `/missing`, Handler: fn(func(h *funcHandler, _ ...string) error {
			_, err := h.GetArgument("name")
			return err
		})},
		{Pattern: `/getonly`, Handler: func() tornago.Handler { return &getOnly{} }},
		{Pattern: `/arg`, Handler: fn(func(h *funcHandler, _ ...string) error {
			v, err := h.GetArguments("a")
			if err != nil {
				return err
			}
			b, err := json.Marshal(append([]string{}, v...))
			if err != nil {
				return err
			}
			return h.Write(b)
		})},
	}, tornago.Settings{CookieCodec: codec, XSRFCookies: true})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)

	t.Run("secure cookie from Tornado read by tornago", func(t *testing.T) {
		_, _, hdr := fetch(t, client, "GET", tornado+"/set?name=user&value=alice+%C3%A9", "")
		setCookie := hdr.Get("Set-Cookie")
		require.Contains(t, setCookie, "user=")
		c, err := http.ParseSetCookie(setCookie)
		require.NoError(t, err)
		status, body, _ := fetch(t, client, "GET", ta.srv.URL+"/get?name=user", "", "Cookie", c.String())
		assert.Equal(t, 200, status)
		assert.Equal(t, "alice é", body)
		// Signed for another name: refused.
		c.Name = "admin"
		status, _, _ = fetch(t, client, "GET", ta.srv.URL+"/get?name=admin", "", "Cookie", c.String())
		assert.Equal(t, 403, status)
	})
	t.Run("secure cookie from tornago read by Tornado", func(t *testing.T) {
		_, _, hdr := fetch(t, client, "GET", ta.srv.URL+"/set?name=user&value=bob+%C3%A9", "")
		c, err := http.ParseSetCookie(hdr.Get("Set-Cookie"))
		require.NoError(t, err)
		assert.InDelta(t, 30*24*time.Hour, time.Until(c.Expires), float64(time.Minute), "30-day expiry")
		status, body, _ := fetch(t, client, "GET", tornado+"/get?name=user", "", "Cookie", c.String())
		assert.Equal(t, 200, status)
		assert.Equal(t, "bob é", body)
	})
	t.Run("xsrf both ways", func(t *testing.T) {
		for _, pair := range [][2]string{{tornado, ta.srv.URL}, {ta.srv.URL, tornado}} {
			issuer, checker := pair[0], pair[1]
			_, token, hdr := fetch(t, client, "GET", issuer+"/xsrf", "")
			c, err := http.ParseSetCookie(hdr.Get("Set-Cookie"))
			require.NoError(t, err)
			require.Equal(t, "_xsrf", c.Name)
			require.True(t, strings.HasPrefix(token, "2|"), token)
			// A fresh masking of the same token, made by the checker's side.
			_, again, _ := fetch(t, client, "GET", checker+"/xsrf", "", "Cookie", c.String())
			assert.NotEqual(t, token, again, "each page gets a new mask")
			for _, tok := range []string{token, again} {
				status, _, _ := fetch(t, client, "POST", checker+"/xsrf", url.Values{"_xsrf": {tok}}.Encode(),
					"Cookie", c.String(), "Content-Type", "application/x-www-form-urlencoded")
				assert.Equal(t, 200, status, "%s accepts %s's token", checker, issuer)
				status, _, _ = fetch(t, client, "POST", checker+"/xsrf", "", "Cookie", c.String(), "X-XSRFToken", tok)
				assert.Equal(t, 200, status, "%s accepts %s's token in X-XSRFToken", checker, issuer)
			}
		}
		// Refusals: same status and page on both sides.
		_, token, hdr := fetch(t, client, "GET", tornado+"/xsrf", "")
		c, err := http.ParseSetCookie(hdr.Get("Set-Cookie"))
		require.NoError(t, err)
		other := "2|00000000|" + strings.Repeat("00", 16) + "|1"
		for _, h := range [][]string{
			{"Cookie", c.String()},                       // token missing
			{"Cookie", c.String(), "X-XSRFToken", other}, // wrong token
			{"X-XSRFToken", token},                       // cookie missing
		} {
			ts, tb, _ := fetch(t, client, "POST", tornado+"/xsrf", "", h...)
			gs, gb, _ := fetch(t, client, "POST", ta.srv.URL+"/xsrf", "", h...)
			assert.Equal(t, 403, ts, "%q", h)
			assert.Equal(t, ts, gs, "%q", h)
			assert.Equal(t, tb, gb, "%q", h)
		}
	})
	t.Run("argument clean-up", func(t *testing.T) {
		for _, q := range []string{"a=1&a=2", "a=x%00y%08z", "a=%20%20x%09%0A", "a=%C2%A0nbsp%E2%80%83",
			"a=%0Bv%0C", "a=x%7Fy%1Fz", "a=%E2%80%A8ls%E2%80%A9", "a=", "b=1"} {
			_, tb, _ := fetch(t, client, "GET", tornado+"/arg?"+q, "")
			_, gb, _ := fetch(t, client, "GET", ta.srv.URL+"/arg?"+q, "")
			assert.JSONEq(t, tb, gb, q)
		}
	})
	t.Run("identical error pages", func(t *testing.T) {
		// (Reason phrases are Go's: 418 is "I'm a teapot" here, "I'm a Teapot" in Python.)
		for _, path := range []string{"/error/400", "/error/404", "/error/503", "/missing", "/nowhere"} {
			ts, tb, _ := fetch(t, client, "GET", tornado+path, "")
			gs, gb, _ := fetch(t, client, "GET", ta.srv.URL+path, "")
			assert.Equal(t, ts, gs, path)
			assert.Equal(t, tb, gb, path)
		}
		ts, tb, th := fetch(t, client, "POST", tornado+"/getonly", "", "Cookie", "_xsrf=x", "X-XSRFToken", "x")
		gs, gb, gh := fetch(t, client, "POST", ta.srv.URL+"/getonly", "", "Cookie", "_xsrf=x", "X-XSRFToken", "x")
		assert.Equal(t, ts, gs)
		assert.Equal(t, tb, gb)
		assert.Equal(t, th.Get("Content-Type"), gh.Get("Content-Type"))
	})
}
