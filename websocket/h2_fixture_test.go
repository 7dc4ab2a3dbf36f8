package websocket

//lint:file-ignore SA1019 x/net's http2.Transport is deprecated in favour of net/http's, which cannot send an RFC 8441 extended CONNECT as of Go 1.26 (it rejects :protocol)

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/tornago/tornago/internal/rawpeer"
)

// h2Server is an HTTPS test server speaking HTTP/2 with RFC 8441, and
// a client transport to it that speaks HTTP/2 only.
type h2Server struct {
	srv       *httptest.Server
	url       string // wss://
	transport *http2.Transport
	tcpConns  atomic.Int32 // TCP connections the server accepted
	requests  chan *http.Request
}

// newH2Server starts handler on an HTTP/2 TLS server. Every request the
// handler gets is also sent on requests (when there is room), so that
// tests can look at how it arrived.
func newH2Server(t testing.TB, handler http.HandlerFunc) *h2Server {
	t.Helper()
	require.True(t, ExtendedConnectEnabled(), "TestMain runs the tests with GODEBUG=http2xconnect=1")
	s := &h2Server{requests: make(chan *http.Request, 100)}
	var wg sync.WaitGroup
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		select {
		case s.requests <- r:
		default:
		}
		handler(w, r)
	}))
	s.srv.EnableHTTP2 = true
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.tcpConns.Add(1)
		}
	}
	s.srv.StartTLS()
	s.url = "wss" + strings.TrimPrefix(s.srv.URL, "https") + "/ws"
	s.transport = h2Transport(s.srv.Client().Transport.(*http.Transport).TLSClientConfig)
	t.Cleanup(func() {
		s.transport.CloseIdleConnections()
		s.srv.Close()
		wg.Wait()
	})
	return s
}

// h2Transport is a client transport that speaks HTTP/2 only: x/net's,
// since net/http's cannot send an extended CONNECT.
func h2Transport(cfg *tls.Config) *http2.Transport {
	return &http2.Transport{TLSClientConfig: cfg}
}

// dialOptions returns options that dial over the server's transport.
func (s *h2Server) dialOptions() *DialOptions {
	return &DialOptions{HTTP2Transport: s.transport}
}

// dial opens a WebSocket to the server over HTTP/2 and checks that it
// was an extended CONNECT answered with 200.
func (s *h2Server) dial(t testing.TB, opts *DialOptions) *Conn {
	t.Helper()
	if opts == nil {
		opts = s.dialOptions()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := Dial(ctx, s.url, opts)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 2, resp.ProtoMajor)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// h2EchoServer starts an HTTP/2 server whose handler accepts with opts
// and echoes every message until the connection ends; the handler
// returns only then, as Accept over HTTP/2 requires.
func h2EchoServer(t testing.TB, opts *AcceptOptions) *h2Server {
	t.Helper()
	return newH2Server(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		_ = confEcho(context.Background(), c)
	})
}

// rawStream opens an extended CONNECT stream by hand and returns a
// scripted client peer on it, for frames our client would never send.
func (s *h2Server) rawStream(t testing.TB) *rawpeer.Peer {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodConnect, "https"+strings.TrimPrefix(s.url, "wss"), pr)
	require.NoError(t, err)
	req.Header[protocolPseudoHeader] = []string{"websocket"}
	req.Header.Set("Sec-WebSocket-Version", "13")
	var rt http.RoundTripper = s.transport
	resp, err := rt.RoundTrip(req)
	if err != nil {
		cancel()
		t.Fatalf("extended CONNECT: %v", err)
	}
	require.Equal(t, http.StatusOK, resp.StatusCode)
	conn := newClientStream(resp.Body, pw, cancel)
	t.Cleanup(func() { conn.Close() })
	return rawpeer.New(t, conn, true)
}

// confConnectH2Server is confConnectServer over HTTP/2: our server
// accepts an extended CONNECT from a scripted client.
func confConnectH2Server(t *testing.T, opts *AcceptOptions, serve confServe) *confPair {
	t.Helper()
	result := make(chan error, 1)
	conns := make(chan *Conn, 1)
	release := make(chan struct{})
	s := newH2Server(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, opts)
		if err != nil {
			result <- fmt.Errorf("accept: %w", err)
			return
		}
		// The stream ends when the handler returns, which it does when
		// our side closes the connection (as an HTTP/1.1 server closes
		// TCP), while serve's result waits for the test.
		go confRun(c, serve, result, conns, release)
		<-c.Done()
	})
	t.Cleanup(func() { close(release) })
	return &confPair{peer: s.rawStream(t), result: result, conn: conns}
}
