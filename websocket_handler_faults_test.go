package tornago_test

// Bad input and faults for WebSocketHandler (issue 4), each over real TCP
// against an Application served by Application.Serve.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/tornagotest"
	"github.com/tornago/tornago/websocket"
)

// wsApp is an Application served by its own Serve on a loopback listener
// (tornagotest.Server), so that Shutdown stops the HTTP server as well as
// the WebSockets.
type wsApp struct{ *tornagotest.Server }

// serveWS serves routes with settings (quiet logger and a cookie secret
// filled in) and shuts the application down when the test ends.
func serveWS(t *testing.T, settings tornago.Settings, routes ...tornago.Route) *wsApp {
	t.Helper()
	if settings.Logger == nil {
		settings.Logger = slog.New(slog.DiscardHandler)
	}
	if settings.CookieSecret == "" {
		settings.CookieSecret = "faults-secret"
	}
	app, err := tornago.NewApplication(routes, settings)
	require.NoError(t, err)
	return &wsApp{tornagotest.NewServer(t, app)}
}

// shutdown stops the application now (once): Shutdown, then Serve's return.
func (a *wsApp) shutdown(*testing.T) { a.Close() }

func (a *wsApp) url(path string) string { return "ws://" + a.Addr + path }

// probe configures faultSocket handlers and records what happened to them.
// Its hook functions run on the handlers' goroutines.
type probe struct {
	open      func(h *faultSocket, args ...string) error
	message   func(h *faultSocket, m tornago.Message) error
	origin    func(origin string) bool
	subproto  func(offered []string) string
	onClose   func(h *faultSocket)
	onPing    func(payload []byte)
	onPong    func(payload []byte)
	opened    chan *faultSocket // each handler whose Open succeeded, if set
	opens     atomic.Int32
	closes    atomic.Int32
	closeInfo chan closeInfo // CloseCode and CloseReason seen in OnClose
	selects   atomic.Int32
}

type closeInfo struct {
	code   int
	reason string
}

func newProbe() *probe { return &probe{closeInfo: make(chan closeInfo, 2000)} }

// route serves faultSockets driven by p at pattern.
func (p *probe) route(pattern string) tornago.Route {
	return tornago.Route{Pattern: pattern, Handler: func() tornago.Handler { return &faultSocket{p: p} }}
}

// waitCloses waits until OnClose ran n times.
func (p *probe) waitCloses(t *testing.T, n int32, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return p.closes.Load() >= n }, within, 2*time.Millisecond,
		"OnClose ran %d times, want %d", p.closes.Load(), n)
}

// nextOpened returns the next handler whose Open succeeded.
func (p *probe) nextOpened(t *testing.T) *faultSocket {
	t.Helper()
	select {
	case h := <-p.opened:
		return h
	case <-time.After(5 * time.Second):
		t.Fatal("no handler opened")
		return nil
	}
}

// faultSocket is a WebSocket handler whose behaviour comes from a probe.
// Without a message hook it echoes, and the texts "close", "fail" and
// "panic" close with 4002, return an error and panic.
type faultSocket struct {
	tornago.WebSocketHandler
	p *probe
}

func (h *faultSocket) Open(args ...string) error {
	h.p.opens.Add(1)
	if h.p.open != nil {
		if err := h.p.open(h, args...); err != nil {
			return err
		}
	}
	if h.p.opened != nil {
		h.p.opened <- h
	}
	return nil
}

func (h *faultSocket) OnMessage(m tornago.Message) error {
	if h.p.message != nil {
		return h.p.message(h, m)
	}
	if !m.Binary {
		switch m.Text() {
		case "close":
			return h.Close(4002, "server bye")
		case "fail":
			return errors.New("handler failed")
		case "panic":
			panic("boom")
		}
	}
	return h.WriteMessage(m.Data, m.Binary)
}

func (h *faultSocket) OnClose() {
	h.p.closes.Add(1)
	h.p.closeInfo <- closeInfo{code: h.CloseCode(), reason: h.CloseReason()}
	if h.p.onClose != nil {
		h.p.onClose(h)
	}
}

func (h *faultSocket) OnPing(payload []byte) {
	if h.p.onPing != nil {
		h.p.onPing(payload)
	}
}

func (h *faultSocket) OnPong(payload []byte) {
	if h.p.onPong != nil {
		h.p.onPong(payload)
	}
}

func (h *faultSocket) CheckOrigin(origin string) bool {
	if h.p.origin != nil {
		return h.p.origin(origin)
	}
	return h.WebSocketHandler.CheckOrigin(origin)
}

func (h *faultSocket) SelectSubprotocol(offered []string) string {
	h.p.selects.Add(1)
	if h.p.subproto != nil {
		return h.p.subproto(offered)
	}
	return ""
}

// GetCurrentUser is the user named by the X-User header, none without it.
func (h *faultSocket) GetCurrentUser() (any, error) {
	if u := h.Request().Header.Get("X-User"); u != "" {
		return u, nil
	}
	return nil, nil
}

// readUntilClose reads and drops messages until the connection ends and
// returns the close code and reason the server sent, or the error when the
// connection ended without a close frame or did not end within the time.
func readUntilClose(c *websocket.Conn, within time.Duration) (websocket.StatusCode, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		_, _, err := c.ReadMessage(ctx)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return 0, "", fmt.Errorf("connection still open after %v: %w", within, err)
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason, nil
		}
		return 0, "", err
	}
}

// readText reads one message and returns it as a string.
func readText(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	return string(b)
}

func sendText(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	require.NoError(t, c.WriteMessage(context.Background(), websocket.TextMessage, []byte(s)))
}

// --- raw TCP peers ---

// rawRequest sends a hand-written HTTP request and returns the response
// with its body read.
func rawRequest(t *testing.T, addr, request string) (*http.Response, string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = io.WriteString(nc, strings.ReplaceAll(request, "\n", "\r\n"))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// rawUpgrade completes the opening handshake on a plain TCP connection,
// which the test then drives frame by frame (or leaves silent).
func rawUpgrade(t *testing.T, addr, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + newKey() + "\r\n\r\n"
	_, err = io.WriteString(nc, req)
	require.NoError(t, err)
	br := bufio.NewReader(nc)
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	require.NoError(t, nc.SetReadDeadline(time.Time{}))
	return nc, br
}

// writeRawFrame writes one final frame; masked frames use a fixed key.
func writeRawFrame(w io.Writer, op byte, payload []byte, masked bool) error {
	hdr := []byte{0x80 | op}
	maskBit := byte(0)
	if masked {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, maskBit|byte(n))
	case n <= 0xffff:
		hdr = append(hdr, maskBit|126)
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr = append(hdr, maskBit|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	body := payload
	if masked {
		key := [4]byte{0x12, 0x34, 0x56, 0x78}
		hdr = append(hdr, key[:]...)
		body = make([]byte, len(payload))
		for i, b := range payload {
			body[i] = b ^ key[i%4]
		}
	}
	_, err := w.Write(append(hdr, body...))
	return err
}

// readRawFrame reads one unmasked frame (as a server sends them) and
// returns its opcode and payload.
func readRawFrame(r *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if h[1]&0x80 != 0 {
		return 0, nil, errors.New("server frame is masked")
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return h[0] & 0x0f, p, err
}

// readRawClose reads frames until a close frame and returns its code and
// reason; it also returns the opcodes of the frames before it.
func readRawClose(t *testing.T, nc net.Conn, br *bufio.Reader) (int, string, []byte) {
	t.Helper()
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
	var before []byte
	for {
		op, p, err := readRawFrame(br)
		require.NoError(t, err)
		if op == 0x8 {
			require.GreaterOrEqual(t, len(p), 2)
			return int(binary.BigEndian.Uint16(p)), string(p[2:]), before
		}
		before = append(before, op)
	}
}

// --- handshake ---

func TestWSFaultOrigin(t *testing.T) {
	t.Parallel()
	p := newProbe()
	trusting := newProbe()
	trusting.origin = func(origin string) bool { return origin == "https://trusted.example" }
	a := serveWS(t, tornago.Settings{}, p.route("/ws"), trusting.route("/trusting"))

	for _, tc := range []struct {
		name, path, host, origin string
		want                     int
	}{
		{"no Origin", "/ws", "", "", http.StatusSwitchingProtocols},
		{"same origin", "/ws", "", "http://" + a.Addr, http.StatusSwitchingProtocols},
		{"same origin, case differs", "/ws", "Chat.Example:8080", "http://chat.EXAMPLE:8080", http.StatusSwitchingProtocols},
		{"cross origin", "/ws", "", "http://evil.example", http.StatusForbidden},
		{"other port", "/ws", "chat.example:8080", "http://chat.example:8081", http.StatusForbidden},
		{"Origin null", "/ws", "", "null", http.StatusForbidden},
		{"override allows", "/trusting", "", "https://trusted.example", http.StatusSwitchingProtocols},
		{"override refuses same origin", "/trusting", "", "http://" + a.Addr, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.host != "" {
				h.Set("Host", tc.host)
			}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			c, resp, err := websocket.Dial(context.Background(), a.url(tc.path), &websocket.DialOptions{Header: h})
			require.NotNil(t, resp, "%v", err)
			assert.Equal(t, tc.want, resp.StatusCode)
			if tc.want != http.StatusSwitchingProtocols {
				require.Error(t, err)
				body, _ := io.ReadAll(resp.Body)
				assert.Equal(t, "Cross origin websockets not allowed", string(body))
				return
			}
			require.NoError(t, err)
			require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
		})
	}
	a.shutdown(t)
	assert.Equal(t, int32(3), p.opens.Load(), "Open runs only for the accepted handshakes")
	assert.Equal(t, int32(3), p.closes.Load())
	assert.Equal(t, int32(1), trusting.opens.Load())
}

func TestWSFaultHandshakeRejections(t *testing.T) {
	t.Parallel()
	p := newProbe()
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	good := map[string]string{
		"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": newKey(),
	}
	for _, tc := range []struct {
		name       string
		method     string
		edit       map[string]string // header changes; "" deletes
		status     int
		body       string
		wantHeader [2]string
	}{
		{"POST", "POST", nil, http.StatusMethodNotAllowed, "Method Not Allowed", [2]string{"Allow", "GET"}},
		{"PUT", "PUT", nil, http.StatusMethodNotAllowed, "Method Not Allowed", [2]string{"Allow", "GET"}},
		{"Upgrade h2c", "GET", map[string]string{"Upgrade": "h2c"}, http.StatusBadRequest, `Can "Upgrade" only to "WebSocket".`, [2]string{}},
		{"no Upgrade", "GET", map[string]string{"Upgrade": ""}, http.StatusBadRequest, `Can "Upgrade" only to "WebSocket".`, [2]string{}},
		{"Connection keep-alive", "GET", map[string]string{"Connection": "keep-alive"}, http.StatusBadRequest, `"Connection" must be "Upgrade".`, [2]string{}},
		{"cross origin", "GET", map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden, "Cross origin websockets not allowed", [2]string{}},
		{"version 12", "GET", map[string]string{"Sec-WebSocket-Version": "12"}, http.StatusUpgradeRequired, "Upgrade Required", [2]string{"Sec-WebSocket-Version", "13"}},
		{"no version", "GET", map[string]string{"Sec-WebSocket-Version": ""}, http.StatusUpgradeRequired, "Upgrade Required", [2]string{"Sec-WebSocket-Version", "13"}},
		{"no key", "GET", map[string]string{"Sec-WebSocket-Key": ""}, http.StatusBadRequest, "Missing/Invalid WebSocket key", [2]string{}},
		{"short key", "GET", map[string]string{"Sec-WebSocket-Key": "c2hvcnQ="}, http.StatusBadRequest, "Missing/Invalid WebSocket key", [2]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			for k, v := range good {
				hdr[k] = v
			}
			for k, v := range tc.edit {
				hdr[k] = v
			}
			req := tc.method + " /ws HTTP/1.1\nHost: " + a.Addr + "\n"
			for k, v := range hdr {
				if v != "" {
					req += k + ": " + v + "\n"
				}
			}
			if tc.method != "GET" {
				req += "Content-Length: 0\n"
			}
			resp, body := rawRequest(t, a.Addr, req+"\n")
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, tc.body, body)
			if tc.wantHeader[0] != "" {
				assert.Equal(t, tc.wantHeader[1], resp.Header.Get(tc.wantHeader[0]))
			}
		})
	}
	a.shutdown(t)
	assert.Zero(t, p.opens.Load(), "Open must not run for a refused handshake")
	assert.Zero(t, p.closes.Load())
}

// --- Open ---

func TestWSFaultOpenErrors(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.open = func(h *faultSocket, _ ...string) error {
		switch v, _ := h.GetArgument("do", tornago.Default("")); v {
		case "401":
			return tornago.HTTPError{Code: http.StatusUnauthorized, Message: "who are you",
				Header: http.Header{"Www-Authenticate": {`Bearer realm="chat"`}}}
		case "403":
			return tornago.Errorf(http.StatusForbidden, "room closed")
		case "error":
			return errors.New("database down")
		case "panic":
			panic("open exploded")
		case "write-then-fail":
			if err := h.WriteText("never sent"); err != nil {
				return err
			}
			return tornago.HTTPError{Code: http.StatusTooManyRequests}
		}
		return h.WriteText("welcome")
	}
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	for _, tc := range []struct {
		do     string
		status int
		body   string
		header [2]string
	}{
		{"401", http.StatusUnauthorized, errorPage("401", "Unauthorized"), [2]string{"Www-Authenticate", `Bearer realm="chat"`}},
		{"403", http.StatusForbidden, errorPage("403", "Forbidden"), [2]string{}},
		{"error", http.StatusInternalServerError, errorPage("500", "Internal Server Error"), [2]string{}},
		{"panic", http.StatusInternalServerError, errorPage("500", "Internal Server Error"), [2]string{}},
		{"write-then-fail", http.StatusTooManyRequests, errorPage("429", "Too Many Requests"), [2]string{}},
	} {
		t.Run(tc.do, func(t *testing.T) {
			c, resp, err := websocket.Dial(context.Background(), a.url("/ws?do="+tc.do), nil)
			require.Error(t, err)
			require.Nil(t, c)
			var de *websocket.DialError
			require.ErrorAs(t, err, &de)
			require.NotNil(t, resp)
			assert.Equal(t, tc.status, resp.StatusCode)
			body, _ := io.ReadAll(resp.Body)
			assert.Equal(t, tc.body, string(body))
			if tc.header[0] != "" {
				assert.Equal(t, tc.header[1], resp.Header.Get(tc.header[0]))
			}
			// The server keeps serving.
			c = dial(t, a.url("/ws"), nil)
			assert.Equal(t, "welcome", readText(t, c))
			require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
		})
	}
	a.shutdown(t)
	assert.Equal(t, int32(10), p.closes.Load(), "OnClose once for every Open, refused ones included")
}

func TestWSFaultOpenCookiesAndHeadersRideOn101(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.open = func(h *faultSocket, _ ...string) error {
		if err := h.SetHeader("X-Room", "lobby"); err != nil {
			return err
		}
		if err := h.SetCookie("plain", "v1"); err != nil {
			return err
		}
		seen, err := h.GetSecureCookie("session")
		if errors.Is(err, tornago.ErrMissingSetting) {
			return err
		}
		if seen == "" {
			return h.SetSecureCookie("session", "ann")
		}
		return h.WriteText("back: " + seen)
	}
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))

	c, resp, err := websocket.Dial(context.Background(), a.url("/ws"), nil)
	require.NoError(t, err)
	assert.Equal(t, "lobby", resp.Header.Get("X-Room"))
	assert.Empty(t, resp.Header.Get("Content-Type"), "no Content-Type on a 101")
	cookies := map[string]*http.Cookie{}
	for _, ck := range resp.Cookies() {
		cookies[ck.Name] = ck
	}
	require.Contains(t, cookies, "session")
	require.Contains(t, cookies, "plain")
	assert.Equal(t, "v1", cookies["plain"].Value)
	assert.NotEqual(t, "ann", cookies["session"].Value, "secure cookies are signed")
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))

	// The browser sends the cookie back on the next connection.
	c = dial(t, a.url("/ws"), &websocket.DialOptions{Header: http.Header{
		"Cookie": {cookies["session"].Name + "=" + cookies["session"].Value}}})
	assert.Equal(t, "back: ann", readText(t, c))
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))

	// A forged cookie is not accepted: Open sees no user and sets a new one.
	c, resp, err = websocket.Dial(context.Background(), a.url("/ws"), &websocket.DialOptions{
		Header: http.Header{"Cookie": {"session=ann"}}})
	require.NoError(t, err)
	assert.Contains(t, resp.Header.Values("Set-Cookie")[0]+resp.Header.Values("Set-Cookie")[1], "session=")
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
}

// requestView is what a handler can read about its request, as sent by
// accessorSocket.
type requestView struct {
	Name     string            `json:"name"`
	Args     []string          `json:"args"`
	Kwargs   map[string]string `json:"kwargs"`
	Room     string            `json:"room"`
	User     any               `json:"user"`
	RemoteIP string            `json:"remote_ip"`
	Client   string            `json:"client"`
	Cookie   string            `json:"cookie"`
	Path     string            `json:"path"`
}

func viewOf(h *faultSocket) (requestView, error) {
	name, err := h.GetArgument("name", tornago.Default("anon"))
	if err != nil {
		return requestView{}, err
	}
	user, err := h.CurrentUser()
	if err != nil {
		return requestView{}, err
	}
	ck, _ := h.GetCookie("flavour")
	return requestView{
		Name: name, Args: h.PathArgs(), Kwargs: h.PathKwargs(), Room: h.PathKwarg("room"),
		User: user, RemoteIP: h.RemoteIP(), Client: h.Request().Header.Get("X-Client"),
		Cookie: ck, Path: h.Request().URL.Path,
	}, nil
}

func TestWSFaultRequestAccessorsInOpenAndOnMessage(t *testing.T) {
	t.Parallel()
	p := newProbe()
	var openArgs atomic.Pointer[[]string]
	p.open = func(h *faultSocket, args ...string) error {
		openArgs.Store(&args)
		v, err := viewOf(h)
		if err != nil {
			return err
		}
		return h.WriteJSON(v)
	}
	p.message = func(h *faultSocket, m tornago.Message) error {
		v, err := viewOf(h)
		if err != nil {
			return err
		}
		return h.WriteJSON(v)
	}
	a := serveWS(t, tornago.Settings{}, p.route(`/rooms/(?P<room>[a-z]+)`), p.route(`/pos/([a-z]+)/([0-9]+)`))

	for _, tc := range []struct {
		name, path string
		header     http.Header
		want       requestView
	}{
		{"kwargs", "/rooms/lobby?name=+ann+&name=bob%20", http.Header{"X-User": {"ann"}, "X-Client": {"cli/1"}, "Cookie": {"flavour=mint"}},
			requestView{Name: "bob", Kwargs: map[string]string{"room": "lobby"}, Room: "lobby", User: "ann",
				RemoteIP: "127.0.0.1", Client: "cli/1", Cookie: "mint", Path: "/rooms/lobby"}},
		{"positional", "/pos/go/42", nil,
			requestView{Name: "anon", Args: []string{"go", "42"}, RemoteIP: "127.0.0.1", Path: "/pos/go/42"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, a.url(tc.path), &websocket.DialOptions{Header: tc.header})
			var inOpen, inMessage requestView
			require.NoError(t, json.Unmarshal([]byte(readText(t, c)), &inOpen))
			sendText(t, c, "again")
			require.NoError(t, json.Unmarshal([]byte(readText(t, c)), &inMessage))
			if len(inOpen.Kwargs) == 0 {
				inOpen.Kwargs, inMessage.Kwargs = nil, nil
			}
			assert.Equal(t, tc.want, inOpen, "in Open")
			assert.Equal(t, tc.want, inMessage, "in OnMessage")
			assert.Equal(t, tc.want.Args, *openArgs.Load(), "Open's args")
			require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
		})
	}
}

func TestWSFaultMessagesFromOpenArriveFirst(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.open = func(h *faultSocket, _ ...string) error {
		for i := range 200 {
			if err := h.WriteText(fmt.Sprintf("open %d", i)); err != nil {
				return err
			}
		}
		return nil
	}
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	c := dial(t, a.url("/ws"), nil)
	sendText(t, c, "echo") // before reading anything
	for i := range 200 {
		require.Equal(t, fmt.Sprintf("open %d", i), readText(t, c))
	}
	assert.Equal(t, "echo", readText(t, c))
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
}

func TestWSFaultSubprotocol(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.subproto = func(offered []string) string {
		for _, o := range offered {
			if o == "chat.v2" {
				return o
			}
		}
		return ""
	}
	p.open = func(h *faultSocket, _ ...string) error { return h.WriteText("proto=" + h.Subprotocol()) }
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	for _, tc := range []struct {
		offer []string
		want  string
	}{
		{[]string{"chat.v1", "chat.v2"}, "chat.v2"},
		{[]string{"chat.v2", "chat.v1"}, "chat.v2"},
		{[]string{"mqtt"}, ""},
		{nil, ""},
	} {
		c, resp, err := websocket.Dial(context.Background(), a.url("/ws"), &websocket.DialOptions{Subprotocols: tc.offer})
		require.NoError(t, err, "offer %v", tc.offer)
		assert.Equal(t, tc.want, c.Subprotocol(), "offer %v", tc.offer)
		assert.Equal(t, tc.want, resp.Header.Get("Sec-WebSocket-Protocol"))
		assert.Equal(t, "proto="+tc.want, readText(t, c))
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	}
	assert.Equal(t, int32(3), p.selects.Load(), "SelectSubprotocol is called only when the client offers some")
}

// --- limits ---

func TestWSFaultMaxMessageSize(t *testing.T) {
	t.Parallel()
	settingsProbe := newProbe()
	handlerProbe := newProbe()
	handlerProbe.open = func(h *faultSocket, _ ...string) error {
		h.SetMaxMessageSize(100)
		return nil
	}
	a := serveWS(t, tornago.Settings{WebSocketMaxMessageSize: 1024},
		settingsProbe.route("/settings"), handlerProbe.route("/handler"))
	for _, tc := range []struct {
		path  string
		limit int
	}{{"/settings", 1024}, {"/handler", 100}} {
		t.Run(tc.path, func(t *testing.T) {
			c := dial(t, a.url(tc.path), nil)
			at := bytes.Repeat([]byte("a"), tc.limit)
			require.NoError(t, c.WriteMessage(context.Background(), websocket.BinaryMessage, at))
			_, got, err := c.ReadMessage(context.Background())
			require.NoError(t, err)
			assert.Len(t, got, tc.limit, "a message of exactly the limit passes")
			require.NoError(t, c.WriteMessage(context.Background(), websocket.BinaryMessage, append(at, 'b')))
			code, _, err := readUntilClose(c, 5*time.Second)
			require.NoError(t, err)
			assert.Equal(t, websocket.StatusMessageTooBig, code)
		})
	}
	settingsProbe.waitCloses(t, 1, 5*time.Second)
	handlerProbe.waitCloses(t, 1, 5*time.Second)
}

// TestWSFaultSlowReaderClosedBySendQueue: a client that stops reading while
// the server writes is closed once its send queue overflows; the writer
// gets ErrSendQueueFull, server memory stays bounded, others go on.
func TestWSFaultSlowReaderClosedBySendQueue(t *testing.T) {
	const queue = 64 << 10
	for _, tc := range []struct {
		name     string
		settings tornago.Settings
		perConn  bool
	}{
		{"Settings.WebSocketSendQueueSize", tornago.Settings{WebSocketSendQueueSize: queue}, false},
		{"SetSendQueueSize", tornago.Settings{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProbe()
			p.opened = make(chan *faultSocket, 2)
			p.open = func(h *faultSocket, _ ...string) error {
				if tc.perConn {
					h.SetSendQueueSize(queue)
				}
				return nil
			}
			a := serveWS(t, tc.settings, p.route("/ws"))
			slow := dial(t, a.url("/ws"), nil) // never reads until the end
			h := p.nextOpened(t)
			other := dial(t, a.url("/ws"), nil)
			p.nextOpened(t)

			chunk := bytes.Repeat([]byte{0xab}, 16<<10)
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			base, peak := ms.HeapInuse, ms.HeapInuse
			// The writer is paced so that the flusher keeps the queue short
			// until the kernel's buffers are full: then only the slow reader
			// can be the reason the queue overflows.
			accepted := 0
			var err error
			for i := 0; i < 20000; i++ { // up to 320 MiB if nothing stopped it
				if err = h.WriteMessage(chunk, true); err != nil {
					break
				}
				accepted += len(chunk)
				if i%32 == 0 {
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapInuse)
				}
				time.Sleep(200 * time.Microsecond)
			}
			require.Error(t, err, "the queue never overflowed")
			assert.ErrorIs(t, err, tornago.ErrSendQueueFull)
			assert.ErrorIs(t, err, tornago.ErrClosed)
			assert.ErrorIs(t, h.WriteMessage([]byte("late"), false), tornago.ErrClosed)
			t.Logf("accepted %d KiB before the overflow; heap in use grew by at most %d KiB", accepted>>10, (peak-base)>>10)
			assert.Less(t, accepted, 32<<20, "only the kernel's buffers and the queue may fill")
			assert.Less(t, peak-base, uint64(48<<20), "server memory must stay bounded")

			p.waitCloses(t, 1, 5*time.Second)
			code, reason, rerr := readUntilClose(slow, 10*time.Second)
			if rerr == nil {
				assert.Equal(t, websocket.StatusPolicyViolation, code)
				assert.Contains(t, reason, "send queue")
			} else {
				assert.ErrorIs(t, rerr, websocket.ErrClosed, "dropped connection")
				t.Logf("slow client saw a dropped connection: %v", rerr)
			}

			// The other connection is unaffected.
			sendText(t, other, "still here")
			assert.Equal(t, "still here", readText(t, other))
			require.NoError(t, other.Close(websocket.StatusNormalClosure, ""))
			a.shutdown(t)
			assert.Equal(t, int32(2), p.closes.Load())
		})
	}
}

func TestWSFaultVanishedPeerPingTimeout(t *testing.T) {
	t.Parallel()
	p := newProbe()
	live := newProbe()
	live.open = func(h *faultSocket, _ ...string) error {
		// Pinged as often, but with room for a test machine under load.
		h.SetPingInterval(100*time.Millisecond, 2*time.Second)
		return nil
	}
	a := serveWS(t, tornago.Settings{WebSocketPingInterval: 100 * time.Millisecond}, p.route("/ws"), live.route("/live"))
	start := time.Now()
	nc, br := rawUpgrade(t, a.Addr, "/ws") // completes the handshake, then plays dead
	p.waitCloses(t, 1, 3*time.Second)
	elapsed := time.Since(start)
	t.Logf("OnClose %v after the handshake", elapsed)
	assert.GreaterOrEqual(t, elapsed, 200*time.Millisecond, "ping interval + timeout")
	assert.Less(t, elapsed, 2*time.Second)
	code, reason, before := readRawClose(t, nc, br)
	assert.Equal(t, 1000, code)
	assert.Equal(t, "ping timed out", reason)
	require.NotEmpty(t, before)
	assert.Equal(t, byte(0x9), before[0], "pinged first")
	info := <-p.closeInfo
	assert.Equal(t, closeInfo{}, info, "the peer sent no close frame")

	// A peer that answers pings stays.
	var pings atomic.Int32
	c := dial(t, a.url("/live"), &websocket.DialOptions{ConnOptions: websocket.ConnOptions{
		OnPing: func([]byte) { pings.Add(1) }}})
	done := make(chan error, 1)
	go func() {
		_, _, err := c.ReadMessage(context.Background()) // answers pings
		done <- err
	}()
	// 25 pings 100 ms apart outlast the 2 s timeout: a server that did
	// not count the answers would have closed the connection by then.
	require.Eventually(t, func() bool { return pings.Load() >= 25 || live.closes.Load() > 0 },
		20*time.Second, 10*time.Millisecond, "pinged %d times", pings.Load())
	assert.Zero(t, live.closes.Load(), "a live peer is not timed out")
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	<-done
}

func TestWSFaultPingAnsweredWhileOnMessageBlocks(t *testing.T) {
	t.Parallel()
	p := newProbe()
	inMessage, release := make(chan struct{}), make(chan struct{})
	p.message = func(h *faultSocket, m tornago.Message) error {
		if m.Text() == "slow" {
			close(inMessage)
			<-release // until the pong has arrived
		}
		return h.WriteMessage(m.Data, m.Binary)
	}
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	pongs := make(chan time.Time, 1)
	c := dial(t, a.url("/ws"), &websocket.DialOptions{ConnOptions: websocket.ConnOptions{
		OnPong: func([]byte) { pongs <- time.Now() }}})
	msgs := make(chan string, 2)
	go func() {
		defer close(msgs)
		for {
			_, b, err := c.ReadMessage(context.Background())
			if err != nil {
				return
			}
			msgs <- string(b)
		}
	}()
	sendText(t, c, "slow")
	<-inMessage
	sent := time.Now()
	require.NoError(t, c.Ping(context.Background(), []byte("you there?")))
	select {
	case got := <-pongs: // OnMessage cannot return before this
		t.Logf("pong after %v", got.Sub(sent))
	case <-time.After(10 * time.Second):
		t.Fatal("no pong while OnMessage was blocked")
	}
	close(release)
	select {
	case m := <-msgs:
		assert.Equal(t, "slow", m)
	case <-time.After(5 * time.Second):
		t.Fatal("no echo")
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	for range msgs {
	}
}

// --- writing ---

func TestWSFaultConcurrentWritesArriveInOrder(t *testing.T) {
	t.Parallel()
	const writers, perWriter = 16, 625
	p := newProbe()
	p.opened = make(chan *faultSocket, 1)
	// The queue is large enough that a reader slowed by -race never
	// overflows it: this test is about concurrency, not back-pressure.
	a := serveWS(t, tornago.Settings{WebSocketSendQueueSize: 64 << 20}, p.route("/ws"))
	c := dial(t, a.url("/ws"), nil)
	h := p.nextOpened(t)

	payload := func(g, i int) []byte {
		return bytes.Repeat([]byte{byte('a' + g)}, (i*37+g)%300)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for g := range writers {
		wg.Go(func() {
			for i := range perWriter {
				msg := append([]byte(fmt.Sprintf("%02d %04d ", g, i)), payload(g, i)...)
				if err := h.WriteMessage(msg, i%3 == 0); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	next := make([]int, writers)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for n := range writers * perWriter {
		typ, b, err := c.ReadMessage(ctx)
		require.NoError(t, err, "message %d", n)
		var g, i int
		_, err = fmt.Sscanf(string(b[:8]), "%02d %04d", &g, &i)
		require.NoError(t, err, "message %d: %q", n, b[:min(len(b), 20)])
		require.Equal(t, next[g], i, "writer %d out of order", g)
		next[g]++
		require.Equal(t, payload(g, i), b[8:], "message %d/%d corrupted", g, i)
		wantTyp := websocket.TextMessage
		if i%3 == 0 {
			wantTyp = websocket.BinaryMessage
		}
		require.Equal(t, wantTyp, typ)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	p.waitCloses(t, 1, 5*time.Second)
}

func TestWSFaultFlush(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.opened = make(chan *faultSocket, 2)
	a := serveWS(t, tornago.Settings{WebSocketSendQueueSize: 64 << 20}, p.route("/ws"))
	c := dial(t, a.url("/ws"), nil)
	h := p.nextOpened(t)
	big := bytes.Repeat([]byte{1}, 512<<10)
	const n = 48 // 24 MiB: more than loopback's socket buffers hold
	for range n {
		require.NoError(t, h.WriteMessage(big, true))
	}
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, h.Flush(short), context.DeadlineExceeded, "the client reads nothing, so Flush must wait")

	flushed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		flushed <- h.Flush(ctx)
	}()
	for range n {
		_, b, err := c.ReadMessage(context.Background())
		require.NoError(t, err)
		require.Len(t, b, len(big))
	}
	assert.NoError(t, <-flushed)
	assert.NoError(t, h.Flush(context.Background()), "nothing queued")

	// A Flush waiting when the connection drops fails with ErrClosed.
	c2 := dial(t, a.url("/ws"), nil)
	h2 := p.nextOpened(t)
	for range n {
		require.NoError(t, h2.WriteMessage(big, true))
	}
	go func() { flushed <- h2.Flush(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, c2.CloseNow())
	select {
	case err := <-flushed:
		assert.ErrorIs(t, err, tornago.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Flush still waiting after the connection dropped")
	}

	// After close every write fails with ErrClosed.
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	p.waitCloses(t, 2, 5*time.Second)
	for name, err := range map[string]error{
		"WriteMessage": h.WriteMessage([]byte("x"), false),
		"WriteText":    h.WriteText("x"),
		"WriteJSON":    h.WriteJSON(map[string]int{"x": 1}),
		"Ping":         h.Ping(nil),
		"WritePrepared": func() error {
			pm, err := tornago.NewPreparedMessage([]byte("x"), false)
			require.NoError(t, err)
			return h.WritePrepared(pm)
		}(),
	} {
		assert.ErrorIs(t, err, tornago.ErrClosed, name)
	}
	assert.NoError(t, h.Close(1000, ""), "Close again does nothing")
}

func TestWSFaultInvalidWrites(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.opened = make(chan *faultSocket, 1)
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	c := dial(t, a.url("/ws"), nil)
	h := p.nextOpened(t)
	bad := []byte{'h', 'i', 0xff, 0xfe}
	err := h.WriteMessage(bad, false)
	require.Error(t, err, "text must be UTF-8")
	assert.NotErrorIs(t, err, tornago.ErrClosed)
	require.Error(t, h.WriteText(string(bad)))
	require.Error(t, h.WriteJSON(func() {}))
	require.Error(t, h.Ping(make([]byte, 126)))
	require.Error(t, h.Close(1005, ""), "1005 may not be sent")
	require.Error(t, h.Close(999, ""))
	// The connection is still fine, and the same bytes go as binary.
	require.NoError(t, h.WriteMessage(bad, true))
	typ, got, err := c.ReadMessage(context.Background())
	require.NoError(t, err)
	assert.Equal(t, websocket.BinaryMessage, typ)
	assert.Equal(t, bad, got)
	_, err = tornago.Broadcast([]*faultSocket{h}, bad, false)
	require.Error(t, err)
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
}

func TestWSFaultBroadcast(t *testing.T) {
	const n = 100
	p := newProbe()
	p.opened = make(chan *faultSocket, n)
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	conns := make([]*websocket.Conn, n)
	handlers := make([]*faultSocket, n)
	for i := range n {
		conns[i] = dial(t, a.url("/ws"), nil)
		handlers[i] = p.nextOpened(t)
	}
	msg := bytes.Repeat([]byte{0xe9}, 128<<10)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	sent, err := tornago.Broadcast(handlers, msg, true)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	assert.Equal(t, n, sent)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("Broadcast of 128 KiB to %d handlers allocated %d KiB", n, allocated>>10)
	assert.Less(t, allocated, uint64(2<<20), "the frame is encoded once, not per handler (that would be 12.5 MiB)")

	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			typ, got, err := c.ReadMessage(context.Background())
			if assert.NoError(t, err, "client %d", i) {
				assert.Equal(t, websocket.BinaryMessage, typ)
				assert.True(t, bytes.Equal(msg, got), "client %d got a different message", i)
			}
		})
	}
	wg.Wait()

	// Closed targets are skipped without an error.
	require.NoError(t, conns[7].Close(websocket.StatusNormalClosure, ""))
	p.waitCloses(t, 1, 5*time.Second)
	sent, err = tornago.Broadcast(handlers, []byte("again"), false)
	require.NoError(t, err)
	assert.Equal(t, n-1, sent)
	for i, c := range conns {
		if i != 7 {
			assert.Equal(t, "again", readText(t, c))
		}
	}
}

// --- shutdown ---

func TestWSFaultShutdownThousandConnections(t *testing.T) {
	const n = 1000
	p := newProbe()
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	conns := make([]*websocket.Conn, n)
	var dialers sync.WaitGroup
	next := atomic.Int32{}
	dialErrs := make(chan error, n)
	for range 32 {
		dialers.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, _, err := websocket.Dial(context.Background(), a.url("/ws"), nil)
				if err != nil {
					dialErrs <- err
					return
				}
				conns[i] = c
			}
		})
	}
	dialers.Wait()
	close(dialErrs)
	for err := range dialErrs {
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.CloseNow()
		}
	})
	require.Eventually(t, func() bool { return p.opens.Load() == n }, 10*time.Second, 5*time.Millisecond)

	codes := make([]websocket.StatusCode, n)
	var readers sync.WaitGroup
	for i, c := range conns {
		readers.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, _, err := c.ReadMessage(ctx)
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				codes[i] = ce.Code
			}
		})
	}
	start := time.Now()
	a.shutdown(t)
	t.Logf("Shutdown with %d connections took %v", n, time.Since(start))
	assert.Equal(t, int32(n), p.closes.Load(), "every OnClose ran before Shutdown returned")
	readers.Wait()
	wrong := 0
	for _, code := range codes {
		if code != websocket.StatusGoingAway {
			wrong++
		}
	}
	assert.Zero(t, wrong, "clients that did not see 1001")
	_, _, err := websocket.Dial(context.Background(), a.url("/ws"), nil)
	assert.Error(t, err, "the listener is closed")
}

// --- OnClose exactly once ---

func TestWSFaultOnCloseExactlyOnce(t *testing.T) {
	t.Parallel()
	type env struct {
		a *wsApp
		p *probe
	}
	for _, tc := range []struct {
		name     string
		settings tornago.Settings
		closes   int32
		// run ends the connection; it returns the close code the client
		// saw (0: none) where that is checked.
		run  func(t *testing.T, e env) websocket.StatusCode
		want websocket.StatusCode
		peer *closeInfo // CloseCode and CloseReason in OnClose, where checked
	}{
		{name: "peer close", closes: 1, want: 4001, peer: &closeInfo{4001, "bye"},
			run: func(t *testing.T, e env) websocket.StatusCode {
				c := dial(t, e.a.url("/ws"), nil)
				err := c.Close(4001, "bye")
				require.NoError(t, err)
				return 4001
			}},
		{name: "peer close without code", closes: 1, peer: &closeInfo{},
			run: func(t *testing.T, e env) websocket.StatusCode {
				c := dial(t, e.a.url("/ws"), nil)
				require.NoError(t, c.Close(0, ""))
				return 0
			}},
		{name: "our close", closes: 1, want: 4002,
			run: func(t *testing.T, e env) websocket.StatusCode {
				c := dial(t, e.a.url("/ws"), nil)
				sendText(t, c, "close")
				code, reason, err := readUntilClose(c, 5*time.Second)
				require.NoError(t, err)
				assert.Equal(t, "server bye", reason)
				return code
			}},
		{name: "ping timeout", closes: 1, peer: &closeInfo{}, settings: tornago.Settings{WebSocketPingInterval: 50 * time.Millisecond}, want: 1000,
			run: func(t *testing.T, e env) websocket.StatusCode {
				nc, br := rawUpgrade(t, e.a.Addr, "/ws")
				e.p.waitCloses(t, 1, 3*time.Second)
				code, _, _ := readRawClose(t, nc, br)
				return websocket.StatusCode(code)
			}},
		{name: "TCP drop", closes: 1, peer: &closeInfo{},
			run: func(t *testing.T, e env) websocket.StatusCode {
				c := dial(t, e.a.url("/ws"), nil)
				require.NoError(t, c.CloseNow())
				return 0
			}},
		{name: "TCP drop mid-frame", closes: 1, peer: &closeInfo{},
			run: func(t *testing.T, e env) websocket.StatusCode {
				nc, _ := rawUpgrade(t, e.a.Addr, "/ws")
				_, err := nc.Write([]byte{0x81, 0xfe, 0x10, 0x00, 1, 2, 3, 4, 'x'}) // 4 KiB text frame, 1 byte sent
				require.NoError(t, err)
				require.NoError(t, nc.Close())
				return 0
			}},
		{name: "protocol error", closes: 1, peer: &closeInfo{}, want: websocket.StatusProtocolError,
			run: func(t *testing.T, e env) websocket.StatusCode {
				nc, br := rawUpgrade(t, e.a.Addr, "/ws")
				require.NoError(t, writeRawFrame(nc, 0x1, []byte("unmasked"), false))
				code, _, _ := readRawClose(t, nc, br)
				_, _, err := readRawFrame(br)
				assert.Error(t, err, "TCP closed after the close frame")
				return websocket.StatusCode(code)
			}},
		{name: "invalid UTF-8", closes: 1, want: websocket.StatusInvalidFramePayloadData,
			run: func(t *testing.T, e env) websocket.StatusCode {
				nc, br := rawUpgrade(t, e.a.Addr, "/ws")
				require.NoError(t, writeRawFrame(nc, 0x1, []byte{0xc3, 0x28}, true))
				code, _, _ := readRawClose(t, nc, br)
				return websocket.StatusCode(code)
			}},
		{name: "OnMessage error", closes: 1, want: websocket.StatusInternalError,
			run: func(t *testing.T, e env) websocket.StatusCode {
				c := dial(t, e.a.url("/ws"), nil)
				sendText(t, c, "fail")
				sendText(t, c, "dropped after the failure")
				code, _, err := readUntilClose(c, 5*time.Second)
				require.NoError(t, err)
				return code
			}},
		{name: "OnMessage panic", closes: 1, want: websocket.StatusInternalError,
			run: func(t *testing.T, e env) websocket.StatusCode {
				c := dial(t, e.a.url("/ws"), nil)
				sendText(t, c, "panic")
				code, _, err := readUntilClose(c, 5*time.Second)
				require.NoError(t, err)
				return code
			}},
		{name: "message too big", closes: 1, settings: tornago.Settings{WebSocketMaxMessageSize: 10}, want: websocket.StatusMessageTooBig,
			run: func(t *testing.T, e env) websocket.StatusCode {
				c := dial(t, e.a.url("/ws"), nil)
				sendText(t, c, "more than ten bytes")
				code, _, err := readUntilClose(c, 5*time.Second)
				require.NoError(t, err)
				return code
			}},
		{name: "shutdown", closes: 1, want: websocket.StatusGoingAway,
			run: func(t *testing.T, e env) websocket.StatusCode {
				c := dial(t, e.a.url("/ws"), nil)
				codes := make(chan websocket.StatusCode, 1)
				go func() {
					code, _, _ := readUntilClose(c, 5*time.Second)
					codes <- code
				}()
				e.a.shutdown(t)
				return <-codes
			}},
		{name: "Open refused", closes: 1, // OnClose undoes what Open did
			run: func(t *testing.T, e env) websocket.StatusCode {
				_, resp, err := websocket.Dial(context.Background(), e.a.url("/ws?refuse=1"), nil)
				require.Error(t, err)
				assert.Equal(t, http.StatusForbidden, resp.StatusCode)
				return 0
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newProbe()
			p.open = func(h *faultSocket, _ ...string) error {
				if v, _ := h.GetArgument("refuse", tornago.Default("")); v != "" {
					return tornago.HTTPError{Code: http.StatusForbidden}
				}
				return nil
			}
			a := serveWS(t, tc.settings, p.route("/ws"))
			code := tc.run(t, env{a, p})
			if tc.want != 0 {
				assert.Equal(t, tc.want, code, "close code seen by the client")
			}
			if tc.closes > 0 {
				p.waitCloses(t, tc.closes, 5*time.Second)
			}
			a.shutdown(t) // waits for every OnClose still owed
			assert.Equal(t, tc.closes, p.closes.Load(), "OnClose calls")
			if tc.peer != nil {
				assert.Equal(t, *tc.peer, <-p.closeInfo, "CloseCode and CloseReason in OnClose")
			}
		})
	}
}

// --- more lifecycle edges ---

func TestWSFaultCloseInOpen(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.open = func(h *faultSocket, _ ...string) error {
		if err := h.WriteText("one message, then goodbye"); err != nil {
			return err
		}
		if err := h.Close(4000, "not today"); err != nil {
			return err
		}
		assert.ErrorIs(t, h.WriteText("too late"), tornago.ErrClosed)
		return nil
	}
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	c := dial(t, a.url("/ws"), nil)
	assert.Equal(t, "one message, then goodbye", readText(t, c))
	code, reason, err := readUntilClose(c, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, websocket.StatusCode(4000), code)
	assert.Equal(t, "not today", reason)
	p.waitCloses(t, 1, 5*time.Second)
	a.shutdown(t)
	assert.Equal(t, int32(1), p.closes.Load())
}

func TestWSFaultPingPongHooks(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.opened = make(chan *faultSocket, 1)
	pings, pongs := make(chan string, 1), make(chan string, 1)
	p.onPing = func(b []byte) { pings <- string(b) }
	p.onPong = func(b []byte) { pongs <- string(b) }
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	c := dial(t, a.url("/ws"), nil)
	h := p.nextOpened(t)
	done := make(chan error, 1)
	go func() {
		_, _, err := c.ReadMessage(context.Background()) // answers the server's ping
		done <- err
	}()
	require.NoError(t, h.Ping([]byte("from server")))
	require.NoError(t, c.Ping(context.Background(), []byte("from client")))
	for name, ch := range map[string]chan string{"from server": pongs, "from client": pings} {
		select {
		case got := <-ch:
			assert.Equal(t, name, got)
		case <-time.After(5 * time.Second):
			t.Fatalf("no OnPing/OnPong with %q", name)
		}
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	<-done
}

func TestWSFaultWritesInOnCloseAndPanickingOnClose(t *testing.T) {
	t.Parallel()
	p := newProbe()
	writes := make(chan error, 2)
	p.onClose = func(h *faultSocket) {
		writes <- h.WriteText("after the end")
		writes <- h.Flush(context.Background())
		panic("OnClose exploded")
	}
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	for range 2 {
		c := dial(t, a.url("/ws"), nil)
		sendText(t, c, "hi")
		assert.Equal(t, "hi", readText(t, c))
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
		assert.ErrorIs(t, <-writes, tornago.ErrClosed, "WriteText in OnClose")
		assert.NoError(t, <-writes, "Flush in OnClose: everything queued was sent")
	}
	a.shutdown(t)
	assert.Equal(t, int32(2), p.closes.Load(), "the server survived a panic in OnClose")
}

// TestWSFaultCloseRacesWriters: Close while 16 goroutines write never
// panics; every write either succeeds or fails with ErrClosed, and the
// client gets each writer's accepted messages in order, then the close.
func TestWSFaultCloseRacesWriters(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.opened = make(chan *faultSocket, 1)
	a := serveWS(t, tornago.Settings{WebSocketSendQueueSize: 64 << 20}, p.route("/ws"))
	c := dial(t, a.url("/ws"), nil)
	h := p.nextOpened(t)
	const writers = 16
	accepted := make([]int, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range writers {
		wg.Go(func() {
			<-start
			for i := 0; ; i++ {
				err := h.WriteText(fmt.Sprintf("%02d %06d", g, i))
				if err != nil {
					assert.ErrorIs(t, err, tornago.ErrClosed)
					return
				}
				accepted[g]++
			}
		})
	}
	close(start)
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, h.Close(4005, "enough"))
	wg.Wait()

	next := make([]int, writers)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		_, b, err := c.ReadMessage(ctx)
		if err != nil {
			var ce *websocket.CloseError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, websocket.StatusCode(4005), ce.Code)
			break
		}
		var g, i int
		_, err = fmt.Sscanf(string(b), "%02d %06d", &g, &i)
		require.NoError(t, err)
		require.Equal(t, next[g], i, "writer %d", g)
		next[g]++
	}
	assert.Equal(t, accepted, next, "every accepted message arrived before the close")
	p.waitCloses(t, 1, 5*time.Second)
}

// TestWSFaultShutdownFlushesQueueFirst: what was queued before Shutdown
// reaches the client before the 1001.
func TestWSFaultShutdownFlushesQueueFirst(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.opened = make(chan *faultSocket, 1)
	a := serveWS(t, tornago.Settings{WebSocketSendQueueSize: 64 << 20}, p.route("/ws"))
	c := dial(t, a.url("/ws"), nil)
	h := p.nextOpened(t)
	const n = 500
	for i := range n {
		require.NoError(t, h.WriteMessage(bytes.Repeat([]byte{byte(i)}, 8<<10), true))
	}
	got := make(chan int, 1)
	go func() {
		count := 0
		for {
			_, b, err := c.ReadMessage(context.Background())
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) && ce.Code == websocket.StatusGoingAway {
					got <- count
				} else {
					got <- -1
				}
				return
			}
			if len(b) == 8<<10 && b[0] == byte(count) {
				count++
			}
		}
	}()
	a.shutdown(t)
	assert.Equal(t, n, <-got, "messages intact and in order before the 1001")
	assert.Equal(t, int32(1), p.closes.Load())
}

// TestWSFaultShutdownDuringOpen: a connection whose Open is still running
// when Shutdown starts is opened and then closed with 1001, and its
// OnClose runs before Shutdown returns.
func TestWSFaultShutdownDuringOpen(t *testing.T) {
	t.Parallel()
	p := newProbe()
	inOpen, release := make(chan struct{}), make(chan struct{})
	p.open = func(h *faultSocket, _ ...string) error {
		close(inOpen)
		<-release
		return h.WriteText("opened late")
	}
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	type result struct {
		first string
		code  websocket.StatusCode
		err   error
	}
	res := make(chan result, 1)
	go func() {
		c, _, err := websocket.Dial(context.Background(), a.url("/ws"), nil)
		if err != nil {
			res <- result{err: err}
			return
		}
		defer c.CloseNow()
		_, b, err := c.ReadMessage(context.Background())
		if err != nil {
			res <- result{err: err}
			return
		}
		code, _, err := readUntilClose(c, 10*time.Second)
		res <- result{first: string(b), code: code, err: err}
	}()
	<-inOpen
	stopped := make(chan struct{})
	go func() {
		a.shutdown(t)
		close(stopped)
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("Shutdown returned while a handler was still in Open")
	default:
	}
	close(release)
	r := <-res
	require.NoError(t, r.err)
	assert.Equal(t, "opened late", r.first)
	assert.Equal(t, websocket.StatusGoingAway, r.code)
	<-stopped
	assert.Equal(t, int32(1), p.closes.Load())
}

func TestWSFaultAuthenticated(t *testing.T) {
	t.Parallel()
	p := newProbe()
	a := serveWS(t, tornago.Settings{LoginURL: "/login"}, tornago.Route{
		Pattern: "/ws",
		Handler: tornago.Authenticated(func() tornago.Handler { return &faultSocket{p: p} }),
	})
	_, resp, err := websocket.Dial(context.Background(), a.url("/ws?x=1"), nil)
	require.Error(t, err)
	assert.Equal(t, http.StatusFound, resp.StatusCode, "anonymous: sent to the login page")
	assert.Equal(t, "/login?next=%2Fws%3Fx%3D1", resp.Header.Get("Location"))
	assert.Zero(t, p.opens.Load())

	c := dial(t, a.url("/ws"), &websocket.DialOptions{Header: http.Header{"X-User": {"ann"}}})
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	assert.Equal(t, int32(1), p.opens.Load())
}

// TestWSFaultFlushInOpenReturnsAtOnce: nothing is sent before Open
// returns (the 101 follows it), so Flush in Open fails at once with
// ErrNotOpen instead of waiting for its context (with
// context.Background() it would hang, and Shutdown with it).
func TestWSFaultFlushInOpenReturnsAtOnce(t *testing.T) {
	t.Parallel()
	p := newProbe()
	type result struct {
		err  error
		took time.Duration
	}
	res := make(chan result, 1)
	p.open = func(h *faultSocket, _ ...string) error {
		if err := h.WriteText("queued in Open"); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		err := h.Flush(ctx)
		res <- result{err, time.Since(start)}
		if !errors.Is(err, tornago.ErrNotOpen) {
			return fmt.Errorf("Flush in Open: %w, want ErrNotOpen", err)
		}
		return nil
	}
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	c := dial(t, a.url("/ws"), nil)
	assert.Equal(t, "queued in Open", readText(t, c))
	r := <-res
	assert.Less(t, r.took, 500*time.Millisecond, "Flush in Open waited for its context (%v): it can never succeed there", r.err)
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
}

// TestWSFaultUnofferedSubprotocolIsNone: when SelectSubprotocol returns a
// name the client did not offer, nothing is negotiated (no
// Sec-WebSocket-Protocol on the 101) and h.Subprotocol() says so, as
// Tornado insists the selection be one of the offered.
func TestWSFaultUnofferedSubprotocolIsNone(t *testing.T) {
	t.Parallel()
	p := newProbe()
	p.subproto = func([]string) string { return "bogus" }
	p.open = func(h *faultSocket, _ ...string) error { return h.WriteText("proto=" + h.Subprotocol()) }
	a := serveWS(t, tornago.Settings{}, p.route("/ws"))
	c, resp, err := websocket.Dial(context.Background(), a.url("/ws"), &websocket.DialOptions{Subprotocols: []string{"chat.v1"}})
	require.NoError(t, err)
	defer c.CloseNow()
	assert.Empty(t, resp.Header.Get("Sec-WebSocket-Protocol"), "nothing negotiated on the wire")
	assert.Equal(t, "proto=", readText(t, c), "h.Subprotocol() must match what was negotiated")
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
}
