package websocket

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tryPair connects a client to a server Conn over loopback TCP (TLS when
// useTLS is set) and returns both; the server Conn is the test's to drive.
// A non-zero buf shrinks the server's send buffer and the client's receive
// buffer, so that a client that stops reading soon fills them.
func tryPair(t *testing.T, accept *AcceptOptions, dial *DialOptions, useTLS bool, buf int) (server, client *Conn) {
	t.Helper()
	conns := make(chan *Conn, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, accept)
		if err != nil {
			return
		}
		conns <- c
	})
	var srv *httptest.Server
	if useTLS {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	if dial == nil {
		dial = &DialOptions{}
	}
	if useTLS {
		dial.TLSConfig = &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	}
	if buf > 0 {
		dial.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			nc, err := d.DialContext(ctx, network, addr)
			if err == nil {
				err = nc.(*net.TCPConn).SetReadBuffer(buf)
			}
			return nc, err
		}
	}
	client = dialT(t, "ws"+strings.TrimPrefix(srv.URL, "http"), dial)
	select {
	case server = <-conns:
	case <-time.After(5 * time.Second):
		t.Fatal("no server connection")
	}
	t.Cleanup(func() { server.CloseNow() })
	if buf > 0 {
		require.NoError(t, server.NetConn().(*net.TCPConn).SetWriteBuffer(buf))
	}
	return server, client
}
