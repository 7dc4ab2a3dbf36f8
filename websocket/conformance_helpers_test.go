package websocket

// Helpers of the RFC 6455 conformance suite (conformance_test.go): the two
// ways of putting one of our Conns opposite a scripted peer
// (internal/rawpeer) on a real TCP connection: our server against a
// scripted client, our client against a scripted server.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/rawpeer"
)

const (
	// confCloseTimeout is our Conn's CloseTimeout in the suite; a peer that
	// follows the script never lets it run out.
	confCloseTimeout = 4 * time.Second
	// confTCPCloseWait is how long the scripted peer waits for our side to
	// close TCP once the closing handshake is over (or the connection was
	// failed). It is shorter than confCloseTimeout, so a Conn that waits
	// for a timer instead of closing at once is caught.
	confTCPCloseWait = 2 * time.Second
)

// confServe is what our side does with its Conn in a case; its result is
// checked against the case's expectation.
type confServe func(ctx context.Context, c *Conn) error

// confEcho echoes every message with its type until a read fails, and
// returns the read error: the behaviour Autobahn's fuzzing peers test.
func confEcho(ctx context.Context, c *Conn) error {
	for {
		typ, data, err := c.ReadMessage(ctx)
		if err != nil {
			return err
		}
		if err := c.WriteMessage(ctx, typ, data); err != nil {
			return fmt.Errorf("echo write: %w", err)
		}
	}
}

// confPair is one conformance connection: the scripted peer and our side.
type confPair struct {
	peer   *rawpeer.Peer
	result <-chan error // what serve returned (or Accept/Dial's error)
	conn   <-chan *Conn // our Conn, once the handshake is done
}

// wait returns our side's result, failing the test if it does not come.
func (cp *confPair) wait(t testing.TB) error {
	t.Helper()
	select {
	case err := <-cp.result:
		return err
	case <-time.After(2 * rawpeer.Timeout):
		t.Fatal("our side did not finish")
		return nil
	}
}

// confConnect sets up our side (our server if ourServer, else our client)
// with opts, running serve, against a scripted peer on a real TCP
// connection. Our Conn is closed (CloseNow) only at the end of the test,
// so that the script can check who closes TCP and when.
func confConnect(t *testing.T, ourServer bool, opts ConnOptions, serve confServe) *confPair {
	t.Helper()
	if ourServer {
		return confConnectServer(t, &AcceptOptions{ConnOptions: opts}, serve)
	}
	return confConnectClient(t, &DialOptions{ConnOptions: opts}, serve)
}

// confRun runs serve on c, reports its result and our Conn, and keeps c
// open until release is closed.
func confRun(c *Conn, serve confServe, result chan<- error, conns chan<- *Conn, release <-chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*rawpeer.Timeout)
	defer cancel()
	conns <- c
	result <- serve(ctx, c)
	<-release
	_ = c.CloseNow()
}

// confConnectServer starts an httptest server whose handler accepts with
// opts and runs serve, and connects a scripted client to it.
func confConnectServer(t *testing.T, opts *AcceptOptions, serve confServe) *confPair {
	t.Helper()
	result := make(chan error, 1)
	conns := make(chan *Conn, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, opts)
		if err != nil {
			result <- fmt.Errorf("accept: %w", err)
			return
		}
		confRun(c, serve, result, conns, release)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	peer := rawpeer.Dial(t, srv.Listener.Addr().String(), "/ws", nil)
	return &confPair{peer: peer, result: result, conn: conns}
}

// confConnectClient listens on a local port, dials it with our client and
// answers the opening handshake by hand.
func confConnectClient(t *testing.T, opts *DialOptions, serve confServe) *confPair {
	t.Helper()
	result := make(chan error, 1)
	conns := make(chan *Conn, 1)
	release := make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), rawpeer.Timeout)
		c, resp, err := Dial(ctx, "ws://"+ln.Addr().String()+"/ws", opts)
		cancel()
		if resp != nil && resp.Body != nil && c == nil {
			resp.Body.Close()
		}
		if err != nil {
			result <- fmt.Errorf("dial: %w", err)
			return
		}
		confRun(c, serve, result, conns, release)
	}()
	t.Cleanup(func() { <-done })
	t.Cleanup(func() { close(release) })
	peer, _ := rawpeer.Accept(t, ln)
	return &confPair{peer: peer, result: result, conn: conns}
}

// confProtocolError checks that err is the *ProtocolError a read returns
// after our side failed the connection with code.
func confProtocolError(t testing.TB, err error, code StatusCode) {
	t.Helper()
	var pe *ProtocolError
	require.ErrorAs(t, err, &pe, "our side's read error")
	assert.Equal(t, code, pe.Code, "ProtocolError.Code (reason %q)", pe.Reason)
	assert.ErrorIs(t, err, ErrProtocol)
	assert.ErrorIs(t, err, ErrClosed)
	if code == StatusMessageTooBig {
		assert.ErrorIs(t, err, ErrMessageTooBig)
	}
}

// confCloseError checks that err is the *CloseError a read returns after
// the peer closed with code and reason.
func confCloseError(t testing.TB, err error, code StatusCode, reason string) {
	t.Helper()
	var ce *CloseError
	require.ErrorAs(t, err, &ce, "our side's read error")
	assert.Equal(t, code, ce.Code, "CloseError.Code")
	assert.Equal(t, reason, ce.Reason, "CloseError.Reason")
	assert.ErrorIs(t, err, ErrClosed)
}

// confTextOf returns n bytes of valid UTF-8 text mixing one-, two-, three-
// and four-byte runes, so that fragment boundaries fall inside runes.
func confTextOf(n int) []byte {
	const unit = "Hello, wörld! Γειά σου κόσμε, 世界 😀 "
	b := make([]byte, 0, n)
	for len(b)+len(unit) <= n {
		b = append(b, unit...)
	}
	for len(b) < n {
		b = append(b, 'x')
	}
	return b
}

// confBinaryOf returns n bytes cycling through every byte value.
func confBinaryOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}
