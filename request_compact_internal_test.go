package tornago

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/websocket"
)

func TestPackHeaderRoundTrip(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]http.Header{
		"empty":            {},
		"browser":          {"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Cookie": {"a=1; b=2"}},
		"repeated fields":  {"X-Trace": {"a", "b", ""}, "Accept": {"*/*"}},
		"any byte":         {"X-Raw": {"\x00\r\n\xff:"}, "\x80odd key": {"v"}},
		"long values":      {"X-Long": {strings.Repeat("v", 127), strings.Repeat("w", 128), strings.Repeat("x", 70000)}},
		"empty key, value": {"": {""}},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, h, unpackHeader(packHeader(h)))
		})
	}
}

func TestTargetIsURL(t *testing.T) {
	t.Parallel()
	parse := func(uri string) *url.URL {
		u, err := url.ParseRequestURI(uri)
		require.NoError(t, err)
		return u
	}
	for _, tc := range []struct {
		uri  string
		u    *url.URL
		want bool
	}{
		{"/echo", parse("/echo"), true},
		{"/rooms/lobby?nick=ann&x=1", parse("/rooms/lobby?nick=ann&x=1"), true},
		{"/", parse("/"), true},
		{"/a%20b", parse("/a%20b"), false},                             // Path is unescaped: kept
		{"/a?q=%2F&r=a+b", parse("/a?q=%2F&r=a+b"), true},              // RawQuery is raw
		{"/a%2Fb", parse("/a%2Fb"), false},                             // RawPath set
		{"/a?", parse("/a?"), false},                                   // ForceQuery
		{"http://example.com/a", parse("http://example.com/a"), false}, // absolute form
		{"/api/rooms", &url.URL{Path: "/rooms"}, false},                // http.StripPrefix rewrote it
		{"/a", &url.URL{Path: "/a", RawQuery: "added=1"}, false},
		{"", &url.URL{Path: "/a"}, false}, // a request made in a test, not read from the wire
		{"/a", nil, false},
	} {
		assert.Equal(t, tc.want, targetIsURL(tc.uri, tc.u), "%q", tc.uri)
	}
}

// compactProbe reports, for its first message, how the handler held its
// request and response header once the handshake was done, then what
// Request() rebuilt.
type compactProbe struct {
	WebSocketHandler
	seen chan string
}

func (h *compactProbe) OnMessage(m Message) error {
	rh := &h.RequestHandler
	held, _ := rh.req.Load().(*http.Request)
	packed := rh.compact != nil && held == nil && rh.compact.req.Header == nil && rh.compact.req.URL == nil &&
		rh.header == nil // the 101's headers went out; nothing holds them
	// Headers and cookies set now go nowhere, without failing.
	if err := errors.Join(h.SetHeader("X-Late", "1"), h.SetCookie("late", "1")); err != nil {
		h.seen <- err.Error()
	}
	h.ResponseHeader().Set("X-Later", "1")
	r := h.Request()
	arg, _ := h.GetArgument("q")
	c, _ := h.GetCookie("c")
	h.seen <- strings.Join([]string{
		map[bool]string{true: "packed", false: "not packed"}[packed],
		r.URL.Path, r.URL.RawQuery, strings.Join(r.Header.Values("X-Trace"), ","),
		arg, c, h.RemoteIP(),
	}, " | ")
	if r != h.Request() {
		h.seen <- "a second Request() rebuilt it again"
	}
	return nil
}

// TestWebSocketRequestCompacted: once the handshake is done, an idle
// connection holds its request packed (no header map, no URL), and
// Request() rebuilds both exactly when asked.
func TestWebSocketRequestCompacted(t *testing.T) {
	seen := make(chan string, 2)
	app, err := NewApplication([]Route{{Pattern: `/ws`, Handler: func() Handler { return &compactProbe{seen: seen} }}},
		Settings{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	srv := httptest.NewServer(app)
	defer srv.Close()
	defer func() { assert.NoError(t, app.Shutdown(context.Background())) }()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hdr := http.Header{"X-Trace": {"a", "b"}, "Cookie": {"c=crumb"}}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws?q=x&q=y", &websocket.DialOptions{Header: hdr})
	require.NoError(t, err)
	defer c.CloseNow()
	require.NoError(t, c.WriteMessage(ctx, websocket.TextMessage, []byte("hi")))
	select {
	case got := <-seen:
		assert.Equal(t, "packed | /ws | q=x&q=y | a,b | y | crumb | 127.0.0.1", got)
	case <-ctx.Done():
		t.Fatal("no message reached OnMessage")
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	select {
	case extra := <-seen:
		t.Error(extra)
	default:
	}
}
