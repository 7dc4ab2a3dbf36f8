package interop

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/websocket"
)

// Tests of permessage-deflate (RFC 7692) against foreign peers with
// compression on: gorilla/websocket's EnableCompression, which speaks only
// no context takeover (its client offers and its server answers
// server_no_context_takeover and client_no_context_takeover), and
// coder/websocket in both of its modes.

// deflatePeer is a foreign library with compression enabled in one mode.
type deflatePeer struct {
	name string
	// dial connects with compression on and returns the 101 response.
	dial func(ctx context.Context, url string) (peerConn, *http.Response, error)
	// upgrade accepts a request with compression on.
	upgrade func(w http.ResponseWriter, r *http.Request) (peerConn, error)
	// noTakeover reports whether the library insists on no context
	// takeover in both directions whatever its peer allows.
	noTakeover bool
}

var deflatePeers = []deflatePeer{
	{name: "gorilla", dial: dialGorillaDeflate, upgrade: upgradeGorillaDeflate, noTakeover: true},
	{name: "coder-context-takeover", dial: dialCoderDeflate(coder.CompressionContextTakeover), upgrade: upgradeCoderDeflate(coder.CompressionContextTakeover)},
	{name: "coder-no-context-takeover", dial: dialCoderDeflate(coder.CompressionNoContextTakeover), upgrade: upgradeCoderDeflate(coder.CompressionNoContextTakeover), noTakeover: true},
}

func dialGorillaDeflate(ctx context.Context, url string) (peerConn, *http.Response, error) {
	d := gorilla.Dialer{EnableCompression: true, HandshakeTimeout: 10 * time.Second}
	c, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, resp, err
	}
	return newGorillaConn(c), resp, nil
}

func upgradeGorillaDeflate(w http.ResponseWriter, r *http.Request) (peerConn, error) {
	u := gorilla.Upgrader{EnableCompression: true}
	c, err := u.Upgrade(w, r, nil)
	if err != nil {
		return nil, err
	}
	return newGorillaConn(c), nil
}

func dialCoderDeflate(mode coder.CompressionMode) func(context.Context, string) (peerConn, *http.Response, error) {
	return func(ctx context.Context, url string) (peerConn, *http.Response, error) {
		cc := &coderConn{pongs: make(chan []byte, 8)}
		c, resp, err := coder.Dial(ctx, url, &coder.DialOptions{CompressionMode: mode, OnPongReceived: cc.onPong})
		if err != nil {
			return nil, resp, err
		}
		c.SetReadLimit(coderLimit)
		cc.c = c
		return cc, resp, nil
	}
}

func upgradeCoderDeflate(mode coder.CompressionMode) func(http.ResponseWriter, *http.Request) (peerConn, error) {
	return func(w http.ResponseWriter, r *http.Request) (peerConn, error) {
		cc := &coderConn{pongs: make(chan []byte, 8)}
		c, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: mode, OnPongReceived: cc.onPong})
		if err != nil {
			return nil, err
		}
		c.SetReadLimit(coderLimit)
		cc.c = c
		return cc, nil
	}
}

// wireCount counts the bytes our side's TCP connection reads and writes,
// handshake included, so that a test can see that messages really went
// compressed in both directions (no library reports it).
type wireCount struct {
	read, written atomic.Int64
	// in parses the frames our side reads.
	in *frameTap
}

func newWireCount() *wireCount { return &wireCount{in: newFrameTap(nil)} }

// countedConn is a net.Conn that adds to a wireCount.
type countedConn struct {
	net.Conn
	n *wireCount
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.read.Add(int64(n))
	c.n.in.mu.Lock()
	c.n.in.feed(p[:n])
	c.n.in.mu.Unlock()
	return n, err
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.written.Add(int64(n))
	return n, err
}

// CloseWrite passes through, so that counting does not change how our
// side shuts a connection down.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// countingListener wraps accepted connections in countedConns that add to
// n.
type countingListener struct {
	net.Listener
	n *wireCount
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: c, n: l.n}, nil
}

// deflatePair is a connection between our side and a foreign peer, both
// with compression enabled.
type deflatePair struct {
	ours *websocket.Conn
	peer peerConn
	// extensions is the Sec-WebSocket-Extensions of the 101 response, as
	// the client saw it.
	extensions string
	wire       *wireCount
}

// connectDeflate connects our side in role r with compression options
// opts to peer p over TCP on 127.0.0.1. conn, when set, adds options to
// our side. Both ends are dropped when the test ends.
func connectDeflate(t *testing.T, ctx context.Context, r role, p deflatePeer, opts *websocket.CompressionOptions, conn websocket.ConnOptions) *deflatePair {
	t.Helper()
	pair := &deflatePair{wire: newWireCount()}
	type result struct {
		ours *websocket.Conn
		peer peerConn
		err  error
	}
	accepted := make(chan result, 1)
	handler := func(w http.ResponseWriter, req *http.Request) {
		if r == ourServer {
			c, err := websocket.Accept(w, req, &websocket.AcceptOptions{ConnOptions: conn, Compression: opts})
			accepted <- result{ours: c, err: err}
			return
		}
		pc, err := p.upgrade(w, req)
		accepted <- result{peer: pc, err: err}
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(handler))
	if r == ourServer {
		srv.Listener = countingListener{Listener: srv.Listener, n: pair.wire}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	var resp *http.Response
	var err error
	if r == ourServer {
		pair.peer, resp, err = p.dial(ctx, url)
		require.NoError(t, err, "%s dial", p.name)
	} else {
		pair.ours, resp, err = websocket.Dial(ctx, url, &websocket.DialOptions{
			ConnOptions: conn,
			Compression: opts,
			NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var d net.Dialer
				c, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &countedConn{Conn: c, n: pair.wire}, nil
			},
		})
		require.NoError(t, err, "tornago dial")
	}
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	pair.extensions = strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ", ")
	select {
	case res := <-accepted:
		require.NoError(t, res.err, "accept")
		if r == ourServer {
			pair.ours = res.ours
		} else {
			pair.peer = res.peer
		}
	case <-ctx.Done():
		t.Fatal("server did not accept the connection")
	}
	t.Cleanup(func() {
		_ = pair.ours.CloseNow()
		_ = pair.peer.CloseNow()
	})
	return pair
}

// deflateMode is one configuration of our side.
type deflateMode struct {
	name string
	opts websocket.CompressionOptions
	// big adds messages of 1 MiB (seconds under -race, so one mode).
	big bool
}

// ourDeflateModes are the configurations our side is tested with in role
// r. As a client we do not ask for server_max_window_bits here: neither
// peer's server can honour it (see TestInteropDeflateServerWindowRequest).
func ourDeflateModes(r role) []deflateMode {
	if r == ourServer {
		return []deflateMode{
			{name: "defaults", big: true},
			{name: "no-context-takeover", opts: websocket.CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true}},
			{name: "window-9-level-9", opts: websocket.CompressionOptions{ServerMaxWindowBits: 9, ClientMaxWindowBits: 9, Level: 9, Threshold: -1}},
		}
	}
	return []deflateMode{
		{name: "defaults", big: true},
		{name: "no-context-takeover", opts: websocket.CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true}},
		{name: "client-window-9-level-9", opts: websocket.CompressionOptions{ClientMaxWindowBits: 9, Level: 9, Threshold: -1}},
	}
}

// deflateMsg is one message of a test sequence.
type deflateMsg struct {
	typ  websocket.MessageType
	data []byte
}

// chatJSON returns about n bytes of chat-like JSON lines, different for
// each seed but from one vocabulary, so that a compressor that keeps
// context finds matches in earlier messages.
func chatJSON(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(uint64(n), seed))
	words := []string{"hello", "world", "room", "typing", "online", "tornago", "message", "status", "ok", "lunch", "héllo", "€uro"}
	var b []byte
	for len(b) < n {
		b = fmt.Appendf(b, `{"type":"%s","room":"r%d","user":"u%d","text":"%s %s","ts":%d}`+"\n",
			words[rng.IntN(len(words))], rng.IntN(20), rng.IntN(500), words[rng.IntN(len(words))], words[rng.IntN(len(words))], 1700000000+rng.IntN(1e6))
	}
	b = b[:n]
	// Cutting may split a multi-byte rune; pad the cut rune with ASCII.
	for len(b) > 0 && b[len(b)-1] >= 0x80 {
		b[len(b)-1] = ' '
	}
	return b
}

// partlyRandom returns n bytes of which about one in four is random: it
// compresses, but not much.
func partlyRandom(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(uint64(n), seed))
	b := make([]byte, n)
	for i := range b {
		if rng.IntN(4) == 0 {
			b[i] = byte(rng.Uint32())
		} else {
			b[i] = byte('a' + i%7)
		}
	}
	return b
}

// deflateMessages is a sequence that exercises compression: sizes around
// the default threshold of 128 bytes, chat messages that refer back to
// earlier ones, one repeated whole, text whose runes meet the reads'
// boundaries, incompressible data (stored blocks), data longer than the
// 32 KiB window, and with big two messages of 1 MiB.
func deflateMessages(big bool) []deflateMsg {
	text := websocket.TextMessage
	bin := websocket.BinaryMessage
	msgs := []deflateMsg{
		{text, []byte{}}, {bin, []byte{}}, {text, []byte("x")},
		{text, chatJSON(127, 1)}, {text, chatJSON(128, 2)}, {bin, chatJSON(129, 3)},
	}
	for i := range 8 {
		msgs = append(msgs, deflateMsg{text, chatJSON(200+i*500, uint64(10+i))})
	}
	msgs = append(msgs,
		deflateMsg{text, chatJSON(200+3*500, 13)}, // a repeat: with context takeover, a few bytes
		deflateMsg{text, textPayload(65536)},
		deflateMsg{bin, binaryPayload(65536)},
		deflateMsg{bin, partlyRandom(100000, 1)},
		deflateMsg{text, chatJSON(40000, 30)},
		deflateMsg{text, chatJSON(4096, 31)},
	)
	if big {
		msgs = append(msgs, deflateMsg{text, chatJSON(1<<20, 40)}, deflateMsg{bin, binaryPayload(1 << 20)}, deflateMsg{text, chatJSON(4096, 41)})
	}
	return msgs
}

// payloadBytes adds up the payload lengths of msgs, and of those that
// compress well (everything but binaryPayload's random bytes).
func payloadBytes(msgs []deflateMsg) (total, compressible int64) {
	for _, m := range msgs {
		total += int64(len(m.data))
		if m.typ == websocket.TextMessage || len(m.data) < 1000 {
			compressible += int64(len(m.data))
		}
	}
	return total, compressible
}

// roleName names our side's role against peer.
func roleName(r role, peer string) string {
	if r == ourServer {
		return "tornago-server/" + peer + "-client"
	}
	return "tornago-client/" + peer + "-server"
}

// TestInteropDeflateEcho runs deflateMessages through every foreign peer
// in both roles and each of our modes: the client end sends, the server
// end echoes, and each echo must come back byte-exact with its type. It
// also checks what the handshake agreed and, by counting bytes on our
// side's TCP connection, that messages crossed compressed both ways.
func TestInteropDeflateEcho(t *testing.T) {
	t.Parallel()
	for _, p := range deflatePeers {
		for _, r := range []role{ourServer, ourClient} {
			for _, m := range ourDeflateModes(r) {
				t.Run(roleName(r, p.name)+"/"+m.name, func(t *testing.T) {
					t.Parallel()
					ctx := testContext(t)
					pair := connectDeflate(t, ctx, r, p, &m.opts, websocket.ConnOptions{})
					require.True(t, pair.ours.Compressed(), "compression not negotiated; response: %q", pair.extensions)
					checkAgreed(t, r, p, m.opts, pair.extensions)

					msgs := deflateMessages(m.big)
					echoThrough(t, ctx, r, pair, msgs)

					// Everything but the random binary compresses at least
					// threefold, so the wire carries at most a third of it
					// plus the random bytes, in both directions.
					total, compressible := payloadBytes(msgs)
					limit := compressible/3 + (total - compressible) + 4096
					assert.Less(t, pair.wire.written.Load(), limit, "bytes our side wrote for %d bytes of payload", total)
					assert.Less(t, pair.wire.read.Load(), limit, "bytes our side read for %d bytes of payload", total)
					t.Logf("agreed %q; payload %d bytes each way, wire: wrote %d, read %d", pair.extensions, total, pair.wire.written.Load(), pair.wire.read.Load())
				})
			}
		}
	}
}

// checkAgreed checks the Sec-WebSocket-Extensions answer against what
// the two sides asked for.
func checkAgreed(t *testing.T, r role, p deflatePeer, opts websocket.CompressionOptions, answer string) {
	t.Helper()
	params := map[string]bool{}
	for i, part := range strings.Split(answer, ";") {
		part = strings.TrimSpace(part)
		if i == 0 {
			require.Equal(t, "permessage-deflate", part, "answer %q", answer)
			continue
		}
		params[part] = true
	}
	wantNoServerTakeover := p.noTakeover || opts.ServerNoContextTakeover
	assert.Equal(t, wantNoServerTakeover, params["server_no_context_takeover"], "server_no_context_takeover in %q", answer)
	if r == ourServer {
		// We echo the peer's request and add our own; nothing else.
		assert.Equal(t, p.noTakeover || opts.ClientNoContextTakeover, params["client_no_context_takeover"], "client_no_context_takeover in %q", answer)
		if opts.ServerMaxWindowBits != 0 {
			assert.True(t, params[fmt.Sprintf("server_max_window_bits=%d", opts.ServerMaxWindowBits)], "server_max_window_bits in %q", answer)
		}
		// Neither peer offers client_max_window_bits, so we must not
		// answer with it (RFC 7692 section 7.1.2.2).
		for k := range params {
			assert.False(t, strings.HasPrefix(k, "client_max_window_bits"), "%q answers a parameter that was not offered", answer)
		}
	}
}

// echoThrough sends msgs from the client end of pair and checks that the
// server end echoes each intact, then closes with 1000 from the client.
func echoThrough(t *testing.T, ctx context.Context, r role, pair *deflatePair, msgs []deflateMsg) {
	t.Helper()
	var (
		send   func(websocket.MessageType, []byte) error
		recv   func() (websocket.MessageType, []byte, error)
		echoed <-chan error
	)
	if r == ourServer {
		echoed = async(func() error { return echoOurs(ctx, pair.ours) })
		send = func(typ websocket.MessageType, b []byte) error { return pair.peer.Write(ctx, typ, b) }
		recv = func() (websocket.MessageType, []byte, error) { return pair.peer.Read(ctx) }
	} else {
		echoed = async(func() error {
			defer pair.peer.CloseNow()
			return echoPeer(ctx, pair.peer)
		})
		send = func(typ websocket.MessageType, b []byte) error { return pair.ours.WriteMessage(ctx, typ, b) }
		recv = func() (websocket.MessageType, []byte, error) { return pair.ours.ReadMessage(ctx) }
	}
	for i, m := range msgs {
		what := fmt.Sprintf("message %d (%s, %d bytes)", i, m.typ, len(m.data))
		require.NoError(t, send(m.typ, m.data), "send %s", what)
		typ, got, err := recv()
		require.NoError(t, err, "echo of %s", what)
		require.Equal(t, m.typ, typ, "type of the echo of %s", what)
		requireSameBytes(t, m.data, got, "echo of "+what)
	}
	if r == ourServer {
		require.NoError(t, pair.peer.Close(ctx, 1000, "done"))
	} else {
		require.NoError(t, pair.ours.Close(websocket.StatusNormalClosure, "done"))
	}
	// The echoing end stops on the close; its error is the close.
	err := wait(t, ctx, echoed, "echo loop")
	require.Error(t, err)
}

// TestInteropDeflateControlBetweenFragments has gorilla stream a
// compressed message (gorilla sends a frame each time its 4 KiB buffer
// fills, RSV1 on the first only) and send a ping between its fragments.
// Our side must answer the ping and still inflate the message intact
// (Tornado corrupts it), in both roles.
func TestInteropDeflateControlBetweenFragments(t *testing.T) {
	t.Parallel()
	for _, r := range []role{ourServer, ourClient} {
		t.Run(roleName(r, "gorilla"), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			var pings atomic.Int32
			pair := connectDeflate(t, ctx, r, deflatePeers[0], &websocket.CompressionOptions{}, websocket.ConnOptions{
				OnPing: func([]byte) { pings.Add(1) },
			})
			require.True(t, pair.ours.Compressed())
			g := pair.peer.(*gorillaConn)

			// Random bytes compress to about their own size, and gorilla's
			// compressor emits a block per 64 KiB of input, so the first
			// chunk goes out as frames before the ping.
			first, second := binaryPayload(150000), chatJSON(60000, 7)
			w, err := g.NextWriter(ctx, websocket.BinaryMessage)
			require.NoError(t, err)
			_, err = w.Write(first)
			require.NoError(t, err)
			require.NoError(t, g.c.WriteControl(gorilla.PingMessage, []byte("between"), deadline(ctx)))
			_, err = w.Write(second)
			require.NoError(t, err)
			require.NoError(t, w.Close())

			typ, got, err := pair.ours.ReadMessage(ctx)
			require.NoError(t, err)
			assert.Equal(t, websocket.BinaryMessage, typ)
			requireSameBytes(t, append(first, second...), got, "message with a ping between its fragments")
			assert.Equal(t, int32(1), pings.Load(), "pings our side saw")
			var ops []byte
			for _, f := range pair.wire.in.take() {
				ops = append(ops, f.opcode)
			}
			ping := slices.Index(ops, 0x9)
			require.Greater(t, ping, 0, "opcodes our side read: %v", ops)
			assert.Equal(t, byte(0x2), ops[0], "opcodes our side read: %v", ops)
			assert.Contains(t, ops[ping+1:], byte(0x0), "no continuation after the ping: %v", ops)

			// The connection goes on: a compressed message each way.
			next := chatJSON(3000, 8)
			require.NoError(t, g.Write(ctx, websocket.TextMessage, next))
			_, got, err = pair.ours.ReadMessage(ctx)
			require.NoError(t, err)
			requireSameBytes(t, next, got, "message after")
			require.NoError(t, pair.ours.WriteMessage(ctx, websocket.TextMessage, next))
			_, got, err = g.Read(ctx)
			require.NoError(t, err)
			requireSameBytes(t, next, got, "our message after")
			require.NoError(t, pair.ours.CloseNow())
		})
	}
}

// TestInteropDeflatePrepared broadcasts prepared messages from our server
// to every foreign client, interleaved with ordinary messages, in our
// default mode and with no context takeover. Gorilla's and coder's
// no-context-takeover clients get the frame compressed once for all of
// them; the others get it compressed in their connection's context.
func TestInteropDeflatePrepared(t *testing.T) {
	t.Parallel()
	for _, m := range []deflateMode{
		{name: "defaults"},
		{name: "no-context-takeover", opts: websocket.CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true}},
	} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			pairs := make([]*deflatePair, 0, 2*len(deflatePeers))
			for range 2 {
				for _, p := range deflatePeers {
					pair := connectDeflate(t, ctx, ourServer, p, &m.opts, websocket.ConnOptions{})
					require.True(t, pair.ours.Compressed(), "%s: %q", p.name, pair.extensions)
					pairs = append(pairs, pair)
				}
			}
			var sent [][]byte
			for i := range 4 {
				data := chatJSON(2000+i*1000, uint64(50+i%2)) // i and i+2 share a seed: matches across messages
				pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
				require.NoError(t, err)
				own := chatJSON(1500, uint64(60+i))
				var wg sync.WaitGroup
				errs := make([]error, len(pairs))
				for j, pair := range pairs {
					wg.Go(func() {
						errs[j] = pair.ours.WritePrepared(ctx, pm)
						if errs[j] == nil {
							errs[j] = pair.ours.WriteMessage(ctx, websocket.TextMessage, own)
						}
					})
				}
				wg.Wait()
				for j, err := range errs {
					require.NoError(t, err, "write to client %d", j)
				}
				sent = append(sent, data, own)
			}
			for j, pair := range pairs {
				for k, want := range sent {
					_, got, err := pair.peer.Read(ctx)
					require.NoError(t, err, "client %d, message %d", j, k)
					requireSameBytes(t, want, got, fmt.Sprintf("client %d, message %d", j, k))
				}
				require.NoError(t, pair.ours.CloseNow())
			}
		})
	}
}

// TestInteropDeflateServerWindowRequest pins down what happens when our
// client asks for server_max_window_bits=9, which neither peer's server
// can honour: coder's server declines the offer and the connection goes
// uncompressed; gorilla's server answers with permessage-deflate but
// without the parameter, which RFC 7692 section 7.1.2.1 forbids ("the
// server MUST include" it when it accepts such an offer), so our client
// fails the handshake, as section 5 says it must.
func TestInteropDeflateServerWindowRequest(t *testing.T) {
	t.Parallel()
	opts := &websocket.CompressionOptions{ServerMaxWindowBits: 9}
	for _, p := range deflatePeers {
		t.Run(roleName(ourClient, p.name), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				pc, err := p.upgrade(w, r)
				if err == nil {
					_ = echoPeer(ctx, pc)
					_ = pc.CloseNow()
				}
			}))
			t.Cleanup(srv.Close)
			url := "ws" + strings.TrimPrefix(srv.URL, "http")
			c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{Compression: opts})
			if p.name == "gorilla" {
				var de *websocket.DialError
				require.ErrorAs(t, err, &de)
				assert.Contains(t, de.Reason, "server_max_window_bits")
				return
			}
			require.NoError(t, err)
			defer c.CloseNow()
			assert.Empty(t, resp.Header.Values("Sec-WebSocket-Extensions"))
			assert.False(t, c.Compressed())
			msg := chatJSON(5000, 1)
			require.NoError(t, c.WriteMessage(ctx, websocket.TextMessage, msg))
			_, got, err := c.ReadMessage(ctx)
			require.NoError(t, err)
			requireSameBytes(t, msg, got, "echo")
			require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
		})
	}
}

// TestInteropDeflateReadLimit has each foreign peer send a message that
// compresses 8 MiB of zeros into a few kilobytes to our side, whose read
// limit is 1 MiB. The limit counts inflated bytes, so our read fails with
// 1009 (ErrMessageTooBig) although few bytes crossed the wire, and the
// peer sees the close code.
func TestInteropDeflateReadLimit(t *testing.T) {
	t.Parallel()
	for _, p := range deflatePeers {
		for _, r := range []role{ourServer, ourClient} {
			t.Run(roleName(r, p.name), func(t *testing.T) {
				t.Parallel()
				ctx := testContext(t)
				pair := connectDeflate(t, ctx, r, p, &websocket.CompressionOptions{}, websocket.ConnOptions{ReadLimit: 1 << 20})
				require.True(t, pair.ours.Compressed())
				peerRead := async(func() error {
					if err := pair.peer.Write(ctx, websocket.BinaryMessage, make([]byte, 8<<20)); err != nil {
						return err
					}
					_, _, err := pair.peer.Read(ctx)
					return err
				})
				_, _, err := pair.ours.ReadMessage(ctx)
				require.ErrorIs(t, err, websocket.ErrMessageTooBig)
				assert.Less(t, pair.wire.read.Load(), int64(256<<10), "bytes our side read of the compressed 8 MiB")

				err = wait(t, ctx, peerRead, "peer read")
				code, _, ok := pair.peer.CloseStatus(err)
				require.True(t, ok, "the peer got no close frame: %v", err)
				assert.Equal(t, 1009, code)
			})
		}
	}
}
