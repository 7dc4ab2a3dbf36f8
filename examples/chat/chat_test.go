package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/examples/chat/internal/chatserver"
	"github.com/tornago/tornago/examples/chat/internal/chattest"
	"github.com/tornago/tornago/tornagotest"
	"github.com/tornago/tornago/websocket"
)

// binary is the chat server, built once for all tests (with -race when the
// tests run with it).
var binary string

func TestMain(m *testing.M) { chattest.Main(m, &binary) }

// startServer runs the chat binary on a free port until the test ends.
func startServer(t *testing.T, flags ...string) *chattest.Server {
	t.Helper()
	return chattest.Start(t, binary, flags...)
}

var uuid4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestPage(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	resp, page := s.Get(t, "/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=UTF-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, page, `<div id="inbox">`)
	assert.Regexp(t, regexp.MustCompile(`(?s)^<!DOCTYPE html>.*<title>tornago Chat Demo</title>.*<div id="inbox">.*</form>.*<script .*</body>\s*</html>\s*$`),
		page, "index.html fills the blocks of the layout base.html")

	// The form carries the XSRF token of the cookie the page sets.
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == "_xsrf" {
			cookie = c.Value
		}
	}
	require.NotEmpty(t, cookie, "the page sets the _xsrf cookie")
	field := regexp.MustCompile(`<input type="hidden" name="_xsrf" value="([^"]+)"/>`).FindStringSubmatch(page)
	require.NotNil(t, field, "the form has the _xsrf field")

	// Static files, with content-hash versions (static_url).
	for _, name := range []string{"chat.css", "chat.js"} {
		link := regexp.MustCompile(`"(/static/` + regexp.QuoteMeta(name) + `\?v=[0-9a-f]{128})"`).FindStringSubmatch(page)
		require.NotNil(t, link, "%s linked with static_url", name)
		resp, body := s.Get(t, link[1])
		assert.Equal(t, http.StatusOK, resp.StatusCode, name)
		assert.Contains(t, resp.Header.Get("Cache-Control"), "max-age=", name)
		assert.NotEmpty(t, body, name)
	}
	// The script picks wss: under https, unlike Tornado's demo.
	_, js := s.Get(t, "/static/chat.js")
	assert.Contains(t, js, `(location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/chatsocket"`)

	// XSRF is on: a POST without the token is refused before any handler
	// sees it; with the cookie's token it passes the check (and / has no
	// Post: 405).
	resp, err := http.PostForm(s.Origin()+"/", url.Values{"body": {"x"}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	req, err := http.NewRequest(http.MethodPost, s.Origin()+"/", strings.NewReader(url.Values{"_xsrf": {field[1]}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "_xsrf", Value: cookie})
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestMembersSeeEachOther(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	alice, bob := s.Dial(t, nil), s.Dial(t, nil)

	const body = `<b>hi</b> & "you" see http://example.com/a?x=1&y=2.`
	chattest.Send(t, alice, body)
	var ids []string
	for _, c := range []*websocket.Conn{alice, bob} { // the sender too
		m := chattest.Receive(t, c)
		assert.Regexp(t, uuid4, m.ID)
		assert.Equal(t, body, m.Body)
		assert.Equal(t, `<div class="message" id="m`+m.ID+`">&lt;b&gt;hi&lt;/b&gt; &amp; &#34;you&#34; see `+
			`<a href="http://example.com/a?x=1&amp;y=2">http://example.com/a?x=1&amp;y=2</a>.</div>`, m.HTML)
		ids = append(ids, m.ID)
	}
	assert.Equal(t, ids[0], ids[1], "one message, one id")

	chattest.Send(t, bob, "reply")
	a, b := chattest.Receive(t, alice), chattest.Receive(t, bob)
	assert.Equal(t, "reply", a.Body)
	assert.Equal(t, a, b)
	assert.NotEqual(t, ids[0], a.ID)

	// A member that left is no longer sent to; the others still are.
	require.NoError(t, bob.Close(websocket.StatusNormalClosure, ""))
	chattest.Send(t, alice, "after bob left")
	assert.Equal(t, "after bob left", chattest.Receive(t, alice).Body)
}

// TestSameOrder checks that members sending at the same time see one
// order, the cache's.
func TestSameOrder(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	members := []*websocket.Conn{s.Dial(t, nil), s.Dial(t, nil), s.Dial(t, nil)}
	const each = 30
	var wg sync.WaitGroup
	for i, c := range members {
		wg.Go(func() {
			for j := range each {
				msg := fmt.Sprintf(`{"body": "m%d-%02d"}`, i, j)
				if err := c.WriteMessage(context.Background(), websocket.TextMessage, []byte(msg)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	orders := make([][]string, len(members))
	for i, c := range members {
		for range each * len(members) {
			orders[i] = append(orders[i], chattest.Receive(t, c).Body)
		}
	}
	wg.Wait()
	for i := 1; i < len(orders); i++ {
		assert.Equal(t, orders[0], orders[i], "member %d", i)
	}
	assert.Equal(t, orders[0], s.Cached(t))
}

func TestHistory(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.Dial(t, nil)
	var sent []chattest.Message
	for _, body := range []string{"first", "second <3", "www.example.org"} {
		chattest.Send(t, c, body)
		sent = append(sent, chattest.Receive(t, c))
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))

	// A reload shows the messages, oldest first, rendered as they were sent.
	_, page := s.Get(t, "/")
	last := 0
	for _, m := range sent {
		i := strings.Index(page, m.HTML)
		require.Positive(t, i, "page shows %q", m.Body)
		assert.Greater(t, i, last, "%q in order", m.Body)
		last = i
	}
	assert.Contains(t, page, `<a href="http://www.example.org">www.example.org</a>`)

	// The reconnected page's socket takes part again.
	c = s.Dial(t, nil)
	chattest.Send(t, c, "back")
	assert.Equal(t, "back", chattest.Receive(t, c).Body)
}

func TestCacheKeepsLast200(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.Dial(t, nil)
	const total = chatserver.CacheSize + 5
	for i := range total {
		chattest.Send(t, c, fmt.Sprintf("msg-%03d", i))
		require.Equal(t, fmt.Sprintf("msg-%03d", i), chattest.Receive(t, c).Body)
	}
	_, page := s.Get(t, "/")
	assert.Equal(t, chatserver.CacheSize, strings.Count(page, `<div class="message"`))
	assert.NotContains(t, page, ">msg-004<")
	assert.Contains(t, page, ">msg-005<")
	assert.Contains(t, page, fmt.Sprintf(">msg-%03d<", total-1))
}

// dialStatus dials with origin (none if empty) and returns the HTTP status
// and body of the answer.
func dialStatus(t *testing.T, s *chattest.Server, origin string) (int, string) {
	t.Helper()
	c := tornagotest.NewClient(t, s.Origin())
	c.Origin = origin
	resp := c.Handshake("/chatsocket", nil)
	return resp.StatusCode, resp.Body
}

func TestOrigin(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tests := []struct {
		name, origin string
		want         int
	}{
		{"the page's origin", s.Origin(), http.StatusSwitchingProtocols},
		{"no Origin (not a browser)", "", http.StatusSwitchingProtocols},
		{"another site", "http://evil.example", http.StatusForbidden},
		{"another port", "http://127.0.0.1:1", http.StatusForbidden},
	}
	for _, tt := range tests {
		status, body := dialStatus(t, s, tt.origin)
		assert.Equal(t, tt.want, status, tt.name)
		if tt.want == http.StatusForbidden {
			assert.Equal(t, "Cross origin websockets not allowed", body, tt.name)
		}
	}
}

func TestBadMessageCloses(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tests := []struct {
		name string
		typ  websocket.MessageType
		msg  string
		want websocket.StatusCode
	}{
		{"not JSON", websocket.TextMessage, "not json", websocket.StatusUnsupportedData},
		{"no body", websocket.TextMessage, `{"text": "no body"}`, websocket.StatusUnsupportedData},
		{"body not a string", websocket.TextMessage, `{"body": 7}`, websocket.StatusUnsupportedData},
		{"binary", websocket.BinaryMessage, `{"body": "x"}`, websocket.StatusUnsupportedData},
		{"over 64 KiB", websocket.TextMessage, `{"body": "` + strings.Repeat("x", chatserver.MaxMessageSize) + `"}`, websocket.StatusMessageTooBig},
	}
	for _, tt := range tests {
		c := s.Dial(t, nil)
		require.NoError(t, c.WriteMessage(context.Background(), tt.typ, []byte(tt.msg)), tt.name)
		_, _, err := c.ReadMessage(chattest.ReadCtx(t))
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce, tt.name)
		assert.Equal(t, tt.want, ce.Code, tt.name)
	}
	// Nothing bad was cached.
	_, page := s.Get(t, "/")
	assert.NotContains(t, page, `class="message"`)
}

func TestDeflate(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-deflate")
	offer := &websocket.DialOptions{Compression: &websocket.CompressionOptions{}}
	a, b := s.Dial(t, offer), s.Dial(t, &websocket.DialOptions{Compression: &websocket.CompressionOptions{}})
	plain := s.Dial(t, nil)
	require.True(t, a.Compressed())
	require.True(t, b.Compressed())
	require.False(t, plain.Compressed())
	body := strings.Repeat("compressible ", 500)
	chattest.Send(t, a, body)
	for _, c := range []*websocket.Conn{a, b, plain} {
		assert.Equal(t, body, chattest.Receive(t, c).Body)
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.Dial(t, nil)
	require.NoError(t, s.Cmd.Process.Signal(syscall.SIGTERM))
	_, _, err := c.ReadMessage(chattest.ReadCtx(t))
	var ce *websocket.CloseError
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, websocket.StatusGoingAway, ce.Code)
	select {
	case <-s.Exited:
	case <-time.After(10 * time.Second):
		t.Fatal("server still running 10s after SIGTERM")
	}
	require.NoError(t, s.Err, "exit status")
	assert.NotContains(t, s.Log.String(), "level=ERROR")
	assert.Contains(t, s.Log.String(), `msg="chat: stopped"`)
}
