package interop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/websocket"
)

// testTimeout bounds every test's context: generous for -race on a
// two-core machine, short enough that a hang fails instead of stalling CI.
const testTimeout = 60 * time.Second

// role is the part tornago plays in a pair.
type role int

const (
	ourServer role = iota // websocket.Accept, foreign client
	ourClient             // websocket.Dial, foreign server
)

// peerConn is the foreign end of a connection, seen through the few
// operations the tests need, so one test body covers every library.
type peerConn interface {
	Write(ctx context.Context, typ websocket.MessageType, p []byte) error
	Read(ctx context.Context) (websocket.MessageType, []byte, error)
	// NextWriter streams a message. gorilla sends a frame each time its
	// 4 KiB buffer fills, coder one frame per Write.
	NextWriter(ctx context.Context, typ websocket.MessageType) (io.WriteCloser, error)
	// Ping sends a ping and waits for the matching pong, returning the
	// payload sent and the payload of the pong. payload is used where the
	// library lets the caller choose it (customPingPayload). A goroutine
	// must be reading from the peer meanwhile.
	Ping(ctx context.Context, payload []byte) (sent, pong []byte, err error)
	// Close performs the close handshake with code and reason and closes
	// TCP. It fails unless the reply carried the same code. Nobody else
	// may be reading from the peer meanwhile.
	Close(ctx context.Context, code int, reason string) error
	// CloseNow drops TCP without a handshake.
	CloseNow() error
	// CloseStatus extracts the close code and reason of the peer's close
	// frame from an error returned by Read.
	CloseStatus(err error) (code int, reason string, ok bool)
	Subprotocol() string
}

// pairConfig configures both ends of a pair.
type pairConfig struct {
	ours websocket.ConnOptions
	// serverProtocols and clientProtocols are the subprotocols the server
	// supports (in preference order) and the client offers, whichever
	// library plays each role.
	serverProtocols []string
	clientProtocols []string
	// peerWriteBuffer sets gorilla's write buffer (0: its default of 4
	// KiB, which splits a client's messages into 4 KiB frames).
	peerWriteBuffer int
}

// library is a foreign WebSocket implementation that can play either role.
type library struct {
	name string
	dial func(ctx context.Context, url string, cfg pairConfig) (peerConn, error)
	// upgrade turns an HTTP request into a peerConn (server role).
	upgrade func(w http.ResponseWriter, r *http.Request, cfg pairConfig) (peerConn, error)
	// customPingPayload reports whether Ping sends the caller's payload.
	customPingPayload bool
}

var libraries = []library{
	{name: "gorilla", dial: dialGorilla, upgrade: upgradeGorilla, customPingPayload: true},
	{name: "coder", dial: dialCoder, upgrade: upgradeCoder},
}

// pairKind names one combination of tornago's role and a foreign library.
type pairKind struct {
	role role
	lib  library
}

func (k pairKind) String() string {
	if k.role == ourServer {
		return "tornago-server/" + k.lib.name + "-client"
	}
	return "tornago-client/" + k.lib.name + "-server"
}

// allPairs lists every combination: our server with each foreign client,
// our client with each foreign server.
func allPairs() []pairKind {
	var ks []pairKind
	for _, r := range []role{ourServer, ourClient} {
		for _, lib := range libraries {
			ks = append(ks, pairKind{role: r, lib: lib})
		}
	}
	return ks
}

// testContext returns a context that ends with the test or after
// testTimeout.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// connect starts an httptest server on 127.0.0.1 for the server end of k
// and dials it with the client end, returning both ends of the connection.
// Both are dropped when the test ends.
func connect(t *testing.T, ctx context.Context, k pairKind, cfg pairConfig) (*websocket.Conn, peerConn) {
	t.Helper()
	ours, peer, _ := connectTapped(t, ctx, k, cfg)
	return ours, peer
}

// connectTapped is connect that also returns a tap on our side's TCP
// connection, which records the frames our side writes.
func connectTapped(t *testing.T, ctx context.Context, k pairKind, cfg pairConfig) (*websocket.Conn, peerConn, *frameTap) {
	t.Helper()
	taps := make(chan *frameTap, 1)
	type result struct {
		ours *websocket.Conn
		peer peerConn
		err  error
	}
	accepted := make(chan result, 1)
	var handler http.HandlerFunc
	if k.role == ourServer {
		handler = func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
				ConnOptions:  cfg.ours,
				Subprotocols: cfg.serverProtocols,
			})
			accepted <- result{ours: c, err: err}
		}
	} else {
		handler = func(w http.ResponseWriter, r *http.Request) {
			p, err := k.lib.upgrade(w, r, cfg)
			accepted <- result{peer: p, err: err}
		}
	}
	srv := httptest.NewUnstartedServer(handler)
	if k.role == ourServer {
		srv.Listener = &tapListener{Listener: srv.Listener, taps: taps}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	var ours *websocket.Conn
	var peer peerConn
	if k.role == ourServer {
		p, err := k.lib.dial(ctx, url, cfg)
		require.NoError(t, err, "%s dial", k.lib.name)
		peer = p
	} else {
		c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
			ConnOptions:  cfg.ours,
			Subprotocols: cfg.clientProtocols,
			NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var d net.Dialer
				c, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				tap := newFrameTap(c)
				taps <- tap
				return tap, nil
			},
		})
		require.NoError(t, err, "tornago dial")
		require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		ours = c
	}
	select {
	case res := <-accepted:
		require.NoError(t, res.err, "accept")
		if k.role == ourServer {
			ours = res.ours
		} else {
			peer = res.peer
		}
	case <-ctx.Done():
		t.Fatal("server did not accept the connection")
	}
	t.Cleanup(func() {
		_ = ours.CloseNow()
		_ = peer.CloseNow()
	})
	var tap *frameTap
	select {
	case tap = <-taps:
	default:
		t.Fatal("our side's connection was not tapped")
	}
	return ours, peer, tap
}

// async runs f on a new goroutine and delivers its error on the returned
// channel, so that a test goroutine never calls t's methods itself.
func async(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

// wait returns the error delivered on ch, failing the test if none comes
// before ctx ends.
func wait(t *testing.T, ctx context.Context, ch <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		t.Fatalf("%s: no result before the test timed out", what)
		return nil
	}
}

// echoOurs echoes every message on c with the same type until a read or
// write fails, and returns that error.
func echoOurs(ctx context.Context, c *websocket.Conn) error {
	for {
		typ, p, err := c.ReadMessage(ctx)
		if err != nil {
			return err
		}
		if err := c.WriteMessage(ctx, typ, p); err != nil {
			return err
		}
	}
}

// echoPeer echoes every message on p with the same type until a read or
// write fails, and returns that error.
func echoPeer(ctx context.Context, p peerConn) error {
	for {
		typ, b, err := p.Read(ctx)
		if err != nil {
			return err
		}
		if err := p.Write(ctx, typ, b); err != nil {
			return err
		}
	}
}

// messageSizes are the payload lengths around the frame header's length
// encodings (7-bit, 16-bit, 64-bit) plus a large message.
var messageSizes = []int{0, 125, 126, 65535, 65536, 1 << 20}

// textPayload returns n bytes of valid UTF-8 that mix one- to four-byte
// runes, so that rune boundaries fall across frames and read buffers.
func textPayload(n int) []byte {
	runes := []rune{'a', 'é', '€', '😀', 'z'}
	b := make([]byte, 0, n)
	for i := 0; len(b) < n; i++ {
		r := runes[i%len(runes)]
		if len(b)+utf8.RuneLen(r) > n {
			r = 'x'
		}
		b = utf8.AppendRune(b, r)
	}
	return b
}

// binaryPayload returns n pseudo-random bytes, the same for the same n.
func binaryPayload(n int) []byte {
	rng := rand.New(rand.NewPCG(uint64(n), 0x7a6e))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func payload(typ websocket.MessageType, n int) []byte {
	if typ == websocket.TextMessage {
		return textPayload(n)
	}
	return binaryPayload(n)
}

// ---- gorilla/websocket ----

type gorillaConn struct {
	c     *gorilla.Conn
	pongs chan []byte
}

func newGorillaConn(c *gorilla.Conn) *gorillaConn {
	g := &gorillaConn{c: c, pongs: make(chan []byte, 8)}
	c.SetPongHandler(func(data string) error {
		select {
		case g.pongs <- []byte(data):
		default:
		}
		return nil
	})
	return g
}

func dialGorilla(ctx context.Context, url string, cfg pairConfig) (peerConn, error) {
	d := gorilla.Dialer{
		Subprotocols:     cfg.clientProtocols,
		WriteBufferSize:  cfg.peerWriteBuffer,
		HandshakeTimeout: 10 * time.Second,
	}
	c, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("gorilla dial: status %d", resp.StatusCode)
	}
	return newGorillaConn(c), nil
}

func upgradeGorilla(w http.ResponseWriter, r *http.Request, cfg pairConfig) (peerConn, error) {
	u := gorilla.Upgrader{Subprotocols: cfg.serverProtocols, WriteBufferSize: cfg.peerWriteBuffer}
	c, err := u.Upgrade(w, r, nil)
	if err != nil {
		return nil, err
	}
	return newGorillaConn(c), nil
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

func (g *gorillaConn) Write(ctx context.Context, typ websocket.MessageType, p []byte) error {
	if err := g.c.SetWriteDeadline(deadline(ctx)); err != nil {
		return err
	}
	return g.c.WriteMessage(int(typ), p)
}

func (g *gorillaConn) Read(ctx context.Context) (websocket.MessageType, []byte, error) {
	if err := g.c.SetReadDeadline(deadline(ctx)); err != nil {
		return 0, nil, err
	}
	typ, p, err := g.c.ReadMessage()
	return websocket.MessageType(typ), p, err
}

func (g *gorillaConn) NextWriter(ctx context.Context, typ websocket.MessageType) (io.WriteCloser, error) {
	if err := g.c.SetWriteDeadline(deadline(ctx)); err != nil {
		return nil, err
	}
	return g.c.NextWriter(int(typ))
}

func (g *gorillaConn) Ping(ctx context.Context, payload []byte) (sent, pong []byte, err error) {
	if payload == nil {
		payload = []byte("gorilla-ping")
	}
	if err := g.c.WriteControl(gorilla.PingMessage, payload, deadline(ctx)); err != nil {
		return payload, nil, err
	}
	select {
	case p := <-g.pongs:
		return payload, p, nil
	case <-ctx.Done():
		return payload, nil, fmt.Errorf("gorilla: no pong: %w", ctx.Err())
	}
}

func (g *gorillaConn) Close(ctx context.Context, code int, reason string) error {
	defer g.c.Close()
	msg := gorilla.FormatCloseMessage(code, reason)
	if err := g.c.WriteControl(gorilla.CloseMessage, msg, deadline(ctx)); err != nil {
		return err
	}
	for {
		_, _, err := g.Read(ctx)
		if err == nil {
			continue // data sent before the peer saw our close
		}
		got, _, ok := g.CloseStatus(err)
		if !ok {
			return fmt.Errorf("gorilla: no close reply: %w", err)
		}
		if got != code {
			return fmt.Errorf("gorilla: close reply code %d, want %d", got, code)
		}
		return nil
	}
}

func (g *gorillaConn) CloseNow() error { return g.c.NetConn().Close() }

func (g *gorillaConn) CloseStatus(err error) (int, string, bool) {
	var ce *gorilla.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Text, true
	}
	return 0, "", false
}

func (g *gorillaConn) Subprotocol() string { return g.c.Subprotocol() }

// ---- coder/websocket ----

type coderConn struct {
	c     *coder.Conn
	pongs chan []byte
	pings int64
}

// coderLimit lets coder read the largest test message (its default limit
// is 32 KiB).
const coderLimit = 4 << 20

func dialCoder(ctx context.Context, url string, cfg pairConfig) (peerConn, error) {
	cc := &coderConn{pongs: make(chan []byte, 8)}
	c, resp, err := coder.Dial(ctx, url, &coder.DialOptions{
		Subprotocols:   cfg.clientProtocols,
		OnPongReceived: cc.onPong,
	})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("coder dial: status %d", resp.StatusCode)
	}
	c.SetReadLimit(coderLimit)
	cc.c = c
	return cc, nil
}

func upgradeCoder(w http.ResponseWriter, r *http.Request, cfg pairConfig) (peerConn, error) {
	cc := &coderConn{pongs: make(chan []byte, 8)}
	c, err := coder.Accept(w, r, &coder.AcceptOptions{
		Subprotocols:   cfg.serverProtocols,
		OnPongReceived: cc.onPong,
	})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(coderLimit)
	cc.c = c
	return cc, nil
}

func (cc *coderConn) onPong(_ context.Context, p []byte) {
	select {
	case cc.pongs <- append([]byte(nil), p...):
	default:
	}
}

func (cc *coderConn) Write(ctx context.Context, typ websocket.MessageType, p []byte) error {
	return cc.c.Write(ctx, coder.MessageType(typ), p)
}

func (cc *coderConn) Read(ctx context.Context) (websocket.MessageType, []byte, error) {
	typ, p, err := cc.c.Read(ctx)
	return websocket.MessageType(typ), p, err
}

func (cc *coderConn) NextWriter(ctx context.Context, typ websocket.MessageType) (io.WriteCloser, error) {
	return cc.c.Writer(ctx, coder.MessageType(typ))
}

// Ping ignores payload: coder sends a counter ("1", "2", ...) and returns
// only when a pong with that payload arrives.
func (cc *coderConn) Ping(ctx context.Context, _ []byte) (sent, pong []byte, err error) {
	cc.pings++
	sent = []byte(strconv.FormatInt(cc.pings, 10))
	if err := cc.c.Ping(ctx); err != nil {
		return sent, nil, err
	}
	select {
	case p := <-cc.pongs:
		return sent, p, nil
	case <-ctx.Done():
		return sent, nil, ctx.Err()
	}
}

// Close returns nil only when the peer's close reply carried code.
func (cc *coderConn) Close(_ context.Context, code int, reason string) error {
	return cc.c.Close(coder.StatusCode(code), reason)
}

func (cc *coderConn) CloseNow() error { return cc.c.CloseNow() }

func (cc *coderConn) CloseStatus(err error) (int, string, bool) {
	var ce coder.CloseError
	if errors.As(err, &ce) {
		return int(ce.Code), ce.Reason, true
	}
	return 0, "", false
}

func (cc *coderConn) Subprotocol() string { return cc.c.Subprotocol() }
