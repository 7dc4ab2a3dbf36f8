package deploy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/websocket"
)

// clientAddr is the loopback address the tests' clients connect from: not
// nginx's (127.0.0.1), so that RemoteIP can tell the two apart.
var clientAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}

func clientDialer() *net.Dialer { return &net.Dialer{LocalAddr: clientAddr} }

func httpClient(roots *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: clientDialer().DialContext, TLSClientConfig: roots}}
}

// dialWS dials url with the Origin a page on origin would send.
func dialWS(ctx context.Context, url, origin string, tlsConfig *tls.Config) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return websocket.Dial(ctx, url, &websocket.DialOptions{Header: h, TLSConfig: tlsConfig, NetDialContext: clientDialer().DialContext})
}

// chatRoundTrip sends a chat message on c and expects it back, as the
// page's script would.
func chatRoundTrip(ctx context.Context, t *testing.T, c *websocket.Conn, body string) {
	t.Helper()
	require.NoError(t, c.WriteMessage(ctx, websocket.TextMessage, []byte(`{"body":`+jsonString(body)+`}`)))
	_, data, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	var m struct{ ID, Body, HTML string }
	require.NoError(t, json.Unmarshal(data, &m))
	assert.Equal(t, body, m.Body)
	assert.NotEmpty(t, m.ID)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestChatThroughNginx: examples/chat behind nginx with the documented
// block: the page loads, a browser-like WebSocket session (with the
// page's Origin) passes the origin check and round-trips a message, and a
// foreign Origin is still refused.
func TestChatThroughNginx(t *testing.T) {
	t.Parallel()
	nginxBin(t) // skip (or fail in CI) before building or starting anything
	p := startNginx(t, site{upstream: startChat(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	client := httpClient(nil)
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + p.addr + "/")
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(page), "tornago Chat Demo")

	c, resp, err := dialWS(ctx, "ws://"+p.addr+"/chatsocket", "http://"+p.addr, nil)
	require.NoError(t, err, "%v", resp)
	defer c.CloseNow()
	chatRoundTrip(ctx, t, c, "through nginx")
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))

	_, resp, err = dialWS(ctx, "ws://"+p.addr+"/chatsocket", "http://evil.example", nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

// TestOriginTrap: a proxy that rewrites Host makes every browser handshake
// fail with 403; the documented Host line, or TrustedProxies with
// X-Forwarded-Host, fixes it. The other documented lines matter too:
// without each, the handshake fails with tornago's 400.
func TestOriginTrap(t *testing.T) {
	t.Parallel()
	nginxBin(t) // skip (or fail in CI) before building or starting anything
	for _, tc := range []struct {
		name    string
		edits   map[string]string // documented line -> replacement
		trusted bool              // the app trusts nginx
		status  int
		body    string
		ip      string // RemoteIP the app sees
	}{
		{"documented block", nil, false, http.StatusSwitchingProtocols, "", "127.0.0.1"},
		{"no Host line: nginx sends proxy_pass's host", map[string]string{docHostLine: ""}, false,
			http.StatusForbidden, "Cross origin websockets not allowed", "127.0.0.1"},
		{"Host $host drops the port", map[string]string{docHostLine: "proxy_set_header Host $host;"}, false,
			http.StatusForbidden, "Cross origin websockets not allowed", "127.0.0.1"},
		{"no Host line, TrustedProxies and X-Forwarded-Host", map[string]string{docHostLine: ""}, true,
			http.StatusSwitchingProtocols, "", "127.0.0.3"},
		{"no proxy_http_version 1.1", map[string]string{"proxy_http_version 1.1;": ""}, false,
			http.StatusBadRequest, "WebSocket requires HTTP/1.1", "127.0.0.1"},
		{"no Upgrade and Connection", map[string]string{
			"proxy_set_header Upgrade $http_upgrade;": "", `proxy_set_header Connection "upgrade";`: "",
		}, false, http.StatusBadRequest, `Can "Upgrade" only to "WebSocket".`, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var settings tornago.Settings
			if tc.trusted {
				settings.TrustedProxies = []string{"127.0.0.1"}
			}
			upstream := serveApp(t, newEchoApp(t, settings, nil))
			loc := docBlock(t, "location")
			for old, repl := range tc.edits {
				loc = replace(t, loc, old, repl)
			}
			p := startNginx(t, site{location: loc, upstream: upstream})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			c, resp, err := dialWS(ctx, "ws://"+p.addr+"/ws", "http://"+p.addr, nil)
			require.NotNil(t, resp, "%v", err)
			assert.Equal(t, tc.status, resp.StatusCode)
			if err == nil {
				require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
			} else {
				body, _ := io.ReadAll(resp.Body)
				assert.Equal(t, tc.body, string(body))
			}

			// X-Forwarded-For as nginx appends it: a forged entry on the
			// left is never believed.
			req, err := http.NewRequest(http.MethodGet, "http://"+p.addr+"/who", nil)
			require.NoError(t, err)
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			client := httpClient(nil)
			defer client.CloseIdleConnections()
			resp, err = client.Do(req)
			require.NoError(t, err)
			who, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(string(who), tc.ip+" http "), string(who))
		})
	}
}

// TestReadTimeoutAndPings: with proxy_read_timeout 2s nginx cuts an idle
// WebSocket without pings; a 1 s ping interval keeps one alive through 6 s
// of silence, both an application's and examples/chat's (-ping 1s); a
// peer that stops answering pings is closed by the ping timeout although
// nginx keeps its connection.
func TestReadTimeoutAndPings(t *testing.T) {
	t.Parallel()
	nginxBin(t) // skip (or fail in CI) before building or starting anything
	// through starts nginx with the 2 s timeout in front of upstream and
	// opens a WebSocket to path through it.
	through := func(t *testing.T, upstream, path string) *websocket.Conn {
		loc := replace(t, docBlock(t, "location"), docReadTimeout, "proxy_read_timeout 2s;")
		p := startNginx(t, site{location: loc, upstream: upstream})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := dialWS(ctx, "ws://"+p.addr+path, "http://"+p.addr, nil)
		require.NoError(t, err)
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	app := func(t *testing.T, ping time.Duration) (string, <-chan struct{}) {
		closed := make(chan struct{}, 1)
		return serveApp(t, newEchoApp(t, tornago.Settings{WebSocketPingInterval: ping}, closed)), closed
	}

	t.Run("app without pings: cut by nginx", func(t *testing.T) {
		t.Parallel()
		upstream, closed := app(t, 0)
		expectCut(t, through(t, upstream, "/ws"))
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Error("the server's OnClose did not run")
		}
	})
	t.Run("app with 1 s pings: alive after 6 s idle", func(t *testing.T) {
		t.Parallel()
		upstream, _ := app(t, time.Second)
		c := through(t, upstream, "/ws")
		expectAlive(t, c, func(ctx context.Context) {
			require.NoError(t, c.WriteMessage(ctx, websocket.TextMessage, []byte("still here")))
			_, m, err := c.ReadMessage(ctx)
			require.NoError(t, err)
			assert.Equal(t, "still here", string(m))
		})
	})
	t.Run("chat without pings: cut by nginx", func(t *testing.T) {
		t.Parallel()
		expectCut(t, through(t, startChat(t), "/chatsocket"))
	})
	t.Run("chat with -ping 1s: alive after 6 s idle", func(t *testing.T) {
		t.Parallel()
		c := through(t, startChat(t, "-ping", "1s"), "/chatsocket")
		expectAlive(t, c, func(ctx context.Context) { chatRoundTrip(ctx, t, c, "still here") })
	})
	t.Run("app with pings, peer gone silent: closed by the ping timeout", func(t *testing.T) {
		t.Parallel()
		closed := make(chan struct{}, 1)
		upstream := serveApp(t, newEchoApp(t, tornago.Settings{
			WebSocketPingInterval: 300 * time.Millisecond, WebSocketPingTimeout: 600 * time.Millisecond,
		}, closed))
		// A client that never reads never answers a ping: to the server it
		// is a phone that lost its network. nginx sees traffic (the pings)
		// and keeps the connection; the ping timeout ends it.
		_ = through(t, upstream, "/ws")
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Error("the silent peer was not closed within 5 s")
		}
	})
}

// expectCut reads from the idle c until nginx cuts it, about 2 s later.
func expectCut(t *testing.T, c *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	begin := time.Now()
	_, _, err := c.ReadMessage(ctx)
	elapsed := time.Since(begin)
	require.Error(t, err)
	require.NoError(t, ctx.Err(), "the connection was not cut")
	assert.InDelta(t, 2.0, elapsed.Seconds(), 1.0, "cut after %v", elapsed)
}

// expectAlive keeps c idle (reading: pings are answered, no message may
// arrive) for 6 s, then runs use on it and closes it.
func expectAlive(t *testing.T, c *websocket.Conn, use func(ctx context.Context)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	idle, stopIdle := context.WithTimeout(ctx, 6*time.Second)
	defer stopIdle()
	begin := time.Now()
	typ, m, err := c.ReadMessage(idle)
	require.GreaterOrEqual(t, time.Since(begin), 5900*time.Millisecond, "the idle read ended early: %v", err)
	// The read must end by the deadline. (The core sometimes reports it as
	// a raw "i/o timeout" rather than context.DeadlineExceeded; either way
	// the connection stays usable, which use checks.)
	var ne net.Error
	require.True(t, errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout(),
		"the idle connection ended (%v) or got %v %q", err, typ, m)
	use(ctx)
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
}

// TestWSSThroughNginx: nginx terminates TLS with a test certificate (the
// documented server block); the Go client trusts it through
// DialOptions.TLSConfig. examples/chat works over wss://, and a trusting
// app sees the client's scheme, host and address.
func TestWSSThroughNginx(t *testing.T) {
	t.Parallel()
	nginxBin(t) // skip (or fail in CI) before building or starting anything
	cert := newTestCert(t)
	tlsConfig := &tls.Config{RootCAs: cert.roots}

	t.Run("chat", func(t *testing.T) {
		t.Parallel()
		p := startNginx(t, site{upstream: startChat(t), tls: cert})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, resp, err := dialWS(ctx, "wss://"+p.tlsAddr+"/chatsocket", "https://"+p.tlsAddr, tlsConfig)
		require.NoError(t, err, "%v", resp)
		defer c.CloseNow()
		chatRoundTrip(ctx, t, c, "over wss")
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))

		_, _, err = dialWS(ctx, "wss://"+p.tlsAddr+"/chatsocket", "https://"+p.tlsAddr, nil)
		var unknown x509.UnknownAuthorityError
		require.ErrorAs(t, err, &unknown, "the system roots do not know the test certificate")
	})

	t.Run("forwarded scheme", func(t *testing.T) {
		t.Parallel()
		upstream := serveApp(t, newEchoApp(t, tornago.Settings{TrustedProxies: []string{"127.0.0.1"}}, nil))
		p := startNginx(t, site{upstream: upstream, tls: cert})
		client := httpClient(tlsConfig)
		defer client.CloseIdleConnections()
		resp, err := client.Get("https://" + p.tlsAddr + "/who")
		require.NoError(t, err)
		who, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, "127.0.0.3 https "+p.tlsAddr, string(who))

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := dialWS(ctx, "wss://"+p.tlsAddr+"/ws", "https://"+p.tlsAddr, tlsConfig)
		require.NoError(t, err)
		defer c.CloseNow()
		require.NoError(t, c.WriteMessage(ctx, websocket.TextMessage, []byte("echo")))
		_, m, err := c.ReadMessage(ctx)
		require.NoError(t, err)
		assert.Equal(t, "echo", string(m))
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	})
}
