package tornago_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/websocket"
)

// whoAmI writes the trusted-proxy view of its request.
type whoAmI struct{ tornago.RequestHandler }

func (h *whoAmI) Get(args ...string) error {
	return h.Write(h.RemoteIP() + " " + h.Protocol() + " " + h.Host())
}

// proxyGet sends GET /who over TCP from 127.0.0.1 with headers.
func proxyGet(t *testing.T, ta *testApp, headers map[string][]string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ta.srv.URL+"/who", nil)
	require.NoError(t, err)
	for k, vs := range headers {
		if k == "Host" {
			req.Host = vs[0]
			continue
		}
		req.Header[k] = vs
	}
	resp, err := ta.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	return string(body)
}

func TestTrustedProxiesView(t *testing.T) {
	t.Parallel()
	routes := []tornago.Route{{Pattern: "/who", Handler: func() tornago.Handler { return &whoAmI{} }}}
	xff := tornago.Settings{TrustedProxies: []string{"127.0.0.1", "10.0.0.0/8"}}
	std := tornago.Settings{TrustedProxies: []string{"127.0.0.0/8", "10.0.0.0/8"}, UseForwardedHeader: true}
	other := tornago.Settings{TrustedProxies: []string{"192.0.2.0/24"}}
	apps := map[string]*testApp{
		"xff":   newTestApp(t, routes, xff),
		"std":   newTestApp(t, routes, std),
		"other": newTestApp(t, routes, other),
		"off":   newTestApp(t, routes, tornago.Settings{}),
	}
	for _, tc := range []struct {
		name    string
		app     string
		headers map[string][]string
		want    string // "ip proto host"; "$host" is the test server's
	}{
		{"no headers", "xff", nil, "127.0.0.1 http $host"},
		{"X-Forwarded-*", "xff", map[string][]string{
			"X-Forwarded-For": {"203.0.113.7"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"chat.example.com"},
			"Host": {"backend:8080"},
		}, "203.0.113.7 https chat.example.com"},
		{"chain skips trusted hops, stops at the first untrusted", "xff", map[string][]string{
			"X-Forwarded-For": {"198.51.100.1, 203.0.113.7", "10.1.2.3"},
		}, "203.0.113.7 http $host"},
		{"all hops trusted: leftmost", "xff", map[string][]string{
			"X-Forwarded-For": {"10.0.0.1, 10.0.0.2"},
		}, "10.0.0.1 http $host"},
		{"garbage hop keeps the last trusted one", "xff", map[string][]string{
			"X-Forwarded-For": {"203.0.113.7, not-an-ip, 10.9.9.9"},
		}, "10.9.9.9 http $host"},
		{"IPv6 with port and brackets", "xff", map[string][]string{
			"X-Forwarded-For": {"[2001:db8::1]:4711"},
		}, "2001:db8::1 http $host"},
		{"last proto and host win, bad values ignored", "xff", map[string][]string{
			"X-Forwarded-Proto": {"http, https"}, "X-Forwarded-Host": {"a.example, b.example:8443"},
		}, "127.0.0.1 https b.example:8443"},
		{"unknown proto and host with a slash ignored", "xff", map[string][]string{
			"X-Forwarded-Proto": {"gopher"}, "X-Forwarded-Host": {"evil.example/x"},
		}, "127.0.0.1 http $host"},
		{"Forwarded ignored in X-Forwarded mode", "xff", map[string][]string{
			"Forwarded": {"for=203.0.113.7;proto=https;host=x.example"},
		}, "127.0.0.1 http $host"},
		{"Forwarded", "std", map[string][]string{
			"Forwarded": {`for="[2001:db8::7]:80";proto=https;host="chat.example.com"`},
		}, "2001:db8::7 https chat.example.com"},
		{"Forwarded chain: the element of the first untrusted hop", "std", map[string][]string{
			"Forwarded": {"for=198.51.100.1;host=forged.example, for=203.0.113.7;proto=https;host=real.example", "for=10.0.0.5;proto=http;host=inner"},
		}, "203.0.113.7 https real.example"},
		{"Forwarded for=unknown keeps the proxy", "std", map[string][]string{
			"Forwarded": {"for=unknown;proto=https"},
		}, "127.0.0.1 https $host"},
		{"X-Forwarded ignored in Forwarded mode", "std", map[string][]string{
			"X-Forwarded-For": {"203.0.113.7"}, "X-Forwarded-Host": {"x.example"},
		}, "127.0.0.1 http $host"},
		{"untrusted peer: headers ignored", "other", map[string][]string{
			"X-Forwarded-For": {"203.0.113.7"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"x.example"},
		}, "127.0.0.1 http $host"},
		{"off by default", "off", map[string][]string{
			"X-Forwarded-For": {"203.0.113.7"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"x.example"},
		}, "127.0.0.1 http $host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ta := apps[tc.app]
			u, err := url.Parse(ta.srv.URL)
			require.NoError(t, err)
			want := strings.ReplaceAll(tc.want, "$host", u.Host)
			assert.Equal(t, want, proxyGet(t, ta, tc.headers))
		})
	}
}

func TestTrustedProxiesInvalid(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"10.0.0.0/33", "example.com", ""} {
		_, err := tornago.NewApplication(nil, tornago.Settings{TrustedProxies: []string{bad}})
		require.Error(t, err, bad)
	}
}

// TestTrustedProxiesURLs: the absolute "next" URL of a login redirect and
// Route.Host matching use the forwarded scheme and host.
func TestTrustedProxiesURLs(t *testing.T) {
	t.Parallel()
	routes := []tornago.Route{
		{Pattern: "/who", Host: `chat\.example\.com`, Handler: func() tornago.Handler { return &whoAmI{} }},
		{Pattern: "/me", Handler: tornago.Authenticated(func() tornago.Handler { return &whoAmI{} })},
	}
	ta := newTestApp(t, routes, tornago.Settings{TrustedProxies: []string{"127.0.0.1"}, LoginURL: "https://sso.example.com/login"})
	fwd := map[string][]string{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"chat.example.com"}}

	assert.Equal(t, "127.0.0.1 https chat.example.com", proxyGet(t, ta, fwd))

	req, err := http.NewRequest(http.MethodGet, ta.srv.URL+"/me?a=b", nil)
	require.NoError(t, err)
	req.Header = fwd
	resp, err := ta.client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "https://sso.example.com/login?next="+url.QueryEscape("https://chat.example.com/me?a=b"), resp.Header.Get("Location"))

	resp, err = ta.client.Get(ta.srv.URL + "/who") // no forwarded host: the Host rule does not match
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestTrustedProxiesOrigin is the reverse-proxy origin trap: a proxy that
// rewrites Host makes the browser's Origin differ from it (403), unless the
// proxy is trusted and forwards the original host.
func TestTrustedProxiesOrigin(t *testing.T) {
	t.Parallel()
	routes := []tornago.Route{{Pattern: "/ws", Handler: func() tornago.Handler { return &tornago.WebSocketHandler{} }}}
	trusting := newTestApp(t, routes, tornago.Settings{TrustedProxies: []string{"127.0.0.1"}})
	other := newTestApp(t, routes, tornago.Settings{TrustedProxies: []string{"192.0.2.1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name   string
		app    *testApp
		header http.Header
		status int
	}{
		{"rewritten Host", trusting, http.Header{"Origin": {"https://chat.example.com"}, "Host": {"backend:8080"}}, http.StatusForbidden},
		{"trusted X-Forwarded-Host", trusting, http.Header{"Origin": {"https://chat.example.com"}, "Host": {"backend:8080"}, "X-Forwarded-Host": {"chat.example.com"}}, http.StatusSwitchingProtocols},
		{"forged X-Forwarded-Host from an untrusted peer", other, http.Header{"Origin": {"https://evil.example"}, "X-Forwarded-Host": {"evil.example"}}, http.StatusForbidden},
		{"cross-site page, trusted proxy", trusting, http.Header{"Origin": {"https://evil.example"}, "Host": {"backend:8080"}, "X-Forwarded-Host": {"chat.example.com"}}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := "ws" + tc.app.srv.URL[len("http"):] + "/ws"
			c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{Header: tc.header})
			require.NotNil(t, resp, "%v", err)
			assert.Equal(t, tc.status, resp.StatusCode)
			if err == nil {
				require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
			} else {
				var de *websocket.DialError
				require.True(t, errors.As(err, &de), "%v", err)
			}
		})
	}
}
