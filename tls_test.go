package tornago_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/testenv"
	"github.com/tornago/tornago/websocket"
)

// tlsEchoApp is the echo socket of websocket_handler_test.go plus a page.
func tlsEchoApp(t *testing.T) *tornago.Application {
	t.Helper()
	app, err := tornago.NewApplication([]tornago.Route{
		{Pattern: `/ws`, Handler: func() tornago.Handler { return &echoSocket{} }},
		{Pattern: `/who`, Handler: func() tornago.Handler { return &whoAmI{} }},
	}, tornago.Settings{CookieSecret: "secret", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return app
}

// serveTLS runs app.ServeTLS on a loopback port until the test ends.
func serveTLS(t *testing.T, app *tornago.Application, cfg *tls.Config) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- app.ServeTLS(l, cfg) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, app.Shutdown(ctx))
		require.NoError(t, <-served)
	})
	return l.Addr().String()
}

func TestServeTLS(t *testing.T) {
	t.Parallel()
	tc := testenv.NewCert(t)
	app := tlsEchoApp(t)
	// The server offers h2 in its config; ServeTLS must still speak
	// HTTP/1.1 only, so that browsers can upgrade to WebSocket.
	addr := serveTLS(t, app, &tls.Config{Certificates: []tls.Certificate{tc.TLS}, NextProtos: []string{"h2", "http/1.1", "acme-tls/1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("https", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: tc.Roots},
			ForceAttemptHTTP2: true,
		}}
		defer client.CloseIdleConnections()
		resp, err := client.Get("https://" + addr + "/who")
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, "HTTP/1.1", resp.Proto)
		assert.Equal(t, "127.0.0.1 https "+addr, string(body))
	})

	t.Run("wss with custom roots", func(t *testing.T) {
		c, resp, err := websocket.Dial(ctx, "wss://"+addr+"/ws?name=tls", &websocket.DialOptions{TLSConfig: &tls.Config{RootCAs: tc.Roots}})
		require.NoError(t, err)
		defer c.CloseNow()
		assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		_, msg, err := c.ReadMessage(ctx)
		require.NoError(t, err)
		assert.Equal(t, "hello tls", string(msg))
		require.NoError(t, c.WriteMessage(ctx, websocket.TextMessage, []byte("over tls")))
		_, msg, err = c.ReadMessage(ctx)
		require.NoError(t, err)
		assert.Equal(t, "over tls", string(msg))
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	})

	t.Run("wss by name with ServerName from the URL", func(t *testing.T) {
		_, port, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		c, _, err := websocket.Dial(ctx, "wss://localhost:"+port+"/ws", &websocket.DialOptions{
			TLSConfig: &tls.Config{RootCAs: tc.Roots},
			// localhost may resolve to ::1 first; the server listens on IPv4.
			NetDialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		})
		require.NoError(t, err)
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	})

	t.Run("ALPN: h2 refused, other protocols kept", func(t *testing.T) {
		for offer, want := range map[string]string{"h2": "", "http/1.1": "http/1.1", "acme-tls/1": "acme-tls/1"} {
			c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: tc.Roots, NextProtos: []string{offer}})
			if want == "" { // no protocol in common: the handshake fails
				require.Error(t, err, offer)
				continue
			}
			require.NoError(t, err, offer)
			assert.Equal(t, want, c.ConnectionState().NegotiatedProtocol)
			require.NoError(t, c.Close())
		}
	})

	t.Run("wss without the root is refused", func(t *testing.T) {
		_, _, err := websocket.Dial(ctx, "wss://"+addr+"/ws", nil)
		var unknown x509.UnknownAuthorityError
		require.ErrorAs(t, err, &unknown)
	})

	t.Run("plain ws to the TLS port fails", func(t *testing.T) {
		_, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
		require.Error(t, err)
	})
}

// TestServeTLSShutdown: Shutdown closes wss connections with 1001, as
// plain ones.
func TestServeTLSShutdown(t *testing.T) {
	t.Parallel()
	tc := testenv.NewCert(t)
	app := tlsEchoApp(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- app.ServeTLS(l, &tls.Config{Certificates: []tls.Certificate{tc.TLS}}) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "wss://"+l.Addr().String()+"/ws", &websocket.DialOptions{TLSConfig: &tls.Config{RootCAs: tc.Roots}})
	require.NoError(t, err)
	defer c.CloseNow()
	_, _, err = c.ReadMessage(ctx) // hello
	require.NoError(t, err)
	read := make(chan error, 1)
	go func() { // the client answers the server's close while Shutdown waits
		_, _, err := c.ReadMessage(ctx)
		read <- err
	}()
	start := time.Now()
	require.NoError(t, app.Shutdown(ctx))
	assert.Less(t, time.Since(start), 2*time.Second)
	require.NoError(t, <-served)
	var ce *websocket.CloseError
	require.ErrorAs(t, <-read, &ce)
	assert.Equal(t, websocket.StatusGoingAway, ce.Code)
}

func TestListenAndServeTLS(t *testing.T) {
	t.Parallel()
	tc := testenv.NewCert(t)
	dir := t.TempDir()
	certFile, keyFile := tc.WriteFiles(t, dir)

	app := tlsEchoApp(t)
	require.Error(t, app.ListenAndServeTLS("127.0.0.1:0", filepath.Join(dir, "missing.pem"), keyFile))

	// A port that was free a moment ago; ListenAndServeTLS takes an
	// address, not a listener.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	served := make(chan error, 1)
	go func() { served <- app.ListenAndServeTLS(addr, certFile, keyFile) }()

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tc.Roots}}}
	defer client.CloseIdleConnections()
	var resp *http.Response
	require.Eventually(t, func() bool {
		resp, err = client.Get("https://" + addr + "/who")
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, app.Shutdown(ctx))
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("ListenAndServeTLS did not return after Shutdown")
	}
}

func TestServeTLSNeedsCertificate(t *testing.T) {
	t.Parallel()
	app := tlsEchoApp(t)
	for _, cfg := range []*tls.Config{nil, {}} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		err = app.ServeTLS(l, cfg)
		require.Error(t, err)
		_, err = l.Accept()
		require.True(t, errors.Is(err, net.ErrClosed), "listener left open: %v", err)
	}
}
