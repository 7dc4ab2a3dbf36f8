package tornago_test

// Bad input and faults in the handshake and Open, each over real TCP
// against an Application served by Application.Serve.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/rawpeer"
	"github.com/tornago/tornago/websocket"
)

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
		"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": rawpeer.NewKey(),
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
			resp, body := rawpeer.Request(t, a.Addr, req+"\n")
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
