package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tornago/tornago/websocket"
)

// binary is the chat server, built once for all tests (with -race when the
// tests run with it).
var binary string

func TestMain(m *testing.M) { os.Exit(buildAndRun(m)) }

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "chat-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "chat")
	args := []string{"build", "-o", binary}
	if raceEnabled() {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the chat server:", err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// raceEnv stops a -race binary from sleeping a second at exit (the race
// runtime's default atexit_sleep_ms), which each test would pay.
func raceEnv() string {
	return "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
}

// server is a running chat process.
type server struct {
	addr   string
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan struct{}
	err    error // from Wait, once exited is closed
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer runs the binary on a free port (from another working
// directory, as `go run ./examples/chat` from the repository root would)
// and stops it with SIGTERM when the test ends.
func startServer(t *testing.T, flags ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"-addr", "127.0.0.1:0"}, flags...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), raceEnv())
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	s := &server{cmd: cmd, log: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = s.log
	require.NoError(t, cmd.Start())
	addrs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addrs <- addr
			}
		}
		close(addrs)
		s.err = cmd.Wait() // after stdout is drained, as os/exec requires
		close(s.exited)
	}()
	select {
	case addr, ok := <-addrs:
		if !ok {
			<-s.exited
			t.Fatalf("server exited before listening: %v\n%s", s.err, s.log)
		}
		s.addr = addr
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-s.exited
		t.Fatalf("server did not print its address\n%s", s.log)
	}
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("server log:\n%s", s.log)
		}
	})
	return s
}

func (s *server) stop(t *testing.T) {
	t.Helper()
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		t.Error("server did not exit within 15s of SIGTERM")
	}
}

// origin is the page's origin, which a browser sends with the handshake.
func (s *server) origin() string { return "http://" + s.addr }

// get fetches path and returns the response with its body read.
func get(t *testing.T, s *server, path string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(s.origin() + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// dial opens /chatsocket as the page's script does: with the page's Origin.
func dial(t *testing.T, s *server, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	if opts.Header == nil {
		opts.Header = http.Header{"Origin": {s.origin()}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+s.addr+"/chatsocket", opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func readCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// send posts body as the page's form does: {"body": ..., "_xsrf": ...}.
func send(t *testing.T, c *websocket.Conn, body string) {
	t.Helper()
	msg, err := json.Marshal(map[string]string{"body": body, "_xsrf": "2|00000000|00|0"})
	require.NoError(t, err)
	require.NoError(t, c.WriteMessage(context.Background(), websocket.TextMessage, msg))
}

// receive reads one chat message and checks its shape: exactly the keys
// id, body and html.
func receive(t *testing.T, c *websocket.Conn) message {
	t.Helper()
	typ, data, err := c.ReadMessage(readCtx(t))
	require.NoError(t, err)
	require.Equal(t, websocket.TextMessage, typ)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(data, &fields), "%s", data)
	require.Len(t, fields, 3, "%s", data)
	var m message
	require.NoError(t, json.Unmarshal(data, &m))
	return m
}

var uuid4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestPage(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	resp, page := get(t, s, "/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=UTF-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, page, `<div id="inbox">`)

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
		resp, body := get(t, s, link[1])
		assert.Equal(t, http.StatusOK, resp.StatusCode, name)
		assert.Contains(t, resp.Header.Get("Cache-Control"), "max-age=", name)
		assert.NotEmpty(t, body, name)
	}
	// The script picks wss: under https, unlike Tornado's demo.
	_, js := get(t, s, "/static/chat.js")
	assert.Contains(t, js, `(location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/chatsocket"`)

	// XSRF is on: a POST without the token is refused before any handler
	// sees it; with the cookie's token it passes the check (and / has no
	// Post: 405).
	resp, err := http.PostForm(s.origin()+"/", url.Values{"body": {"x"}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	req, err := http.NewRequest(http.MethodPost, s.origin()+"/", strings.NewReader(url.Values{"_xsrf": {field[1]}}.Encode()))
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
	alice, bob := dial(t, s, nil), dial(t, s, nil)

	const body = `<b>hi</b> & "you" see http://example.com/a?x=1&y=2.`
	send(t, alice, body)
	var ids []string
	for _, c := range []*websocket.Conn{alice, bob} { // the sender too
		m := receive(t, c)
		assert.Regexp(t, uuid4, m.ID)
		assert.Equal(t, body, m.Body)
		assert.Equal(t, `<div class="message" id="m`+m.ID+`">&lt;b&gt;hi&lt;/b&gt; &amp; &#34;you&#34; see `+
			`<a href="http://example.com/a?x=1&amp;y=2">http://example.com/a?x=1&amp;y=2</a>.</div>`, m.HTML)
		ids = append(ids, m.ID)
	}
	assert.Equal(t, ids[0], ids[1], "one message, one id")

	send(t, bob, "reply")
	a, b := receive(t, alice), receive(t, bob)
	assert.Equal(t, "reply", a.Body)
	assert.Equal(t, a, b)
	assert.NotEqual(t, ids[0], a.ID)

	// A member that left is no longer sent to; the others still are.
	require.NoError(t, bob.Close(websocket.StatusNormalClosure, ""))
	send(t, alice, "after bob left")
	assert.Equal(t, "after bob left", receive(t, alice).Body)
}

// TestSameOrder checks that members sending at the same time see one
// order, the cache's.
func TestSameOrder(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	members := []*websocket.Conn{dial(t, s, nil), dial(t, s, nil), dial(t, s, nil)}
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
			orders[i] = append(orders[i], receive(t, c).Body)
		}
	}
	wg.Wait()
	for i := 1; i < len(orders); i++ {
		assert.Equal(t, orders[0], orders[i], "member %d", i)
	}
	_, page := get(t, s, "/")
	var cached []string
	for _, m := range regexp.MustCompile(`<div class="message" id="m[^"]+">([^<]*)</div>`).FindAllStringSubmatch(page, -1) {
		cached = append(cached, m[1])
	}
	assert.Equal(t, orders[0], cached)
}

func TestHistory(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := dial(t, s, nil)
	var sent []message
	for _, body := range []string{"first", "second <3", "www.example.org"} {
		send(t, c, body)
		sent = append(sent, receive(t, c))
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))

	// A reload shows the messages, oldest first, rendered as they were sent.
	_, page := get(t, s, "/")
	last := 0
	for _, m := range sent {
		i := strings.Index(page, m.HTML)
		require.Positive(t, i, "page shows %q", m.Body)
		assert.Greater(t, i, last, "%q in order", m.Body)
		last = i
	}
	assert.Contains(t, page, `<a href="http://www.example.org">www.example.org</a>`)

	// The reconnected page's socket takes part again.
	c = dial(t, s, nil)
	send(t, c, "back")
	assert.Equal(t, "back", receive(t, c).Body)
}

func TestCacheKeepsLast200(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := dial(t, s, nil)
	const total = cacheSize + 5
	for i := range total {
		send(t, c, fmt.Sprintf("msg-%03d", i))
		require.Equal(t, fmt.Sprintf("msg-%03d", i), receive(t, c).Body)
	}
	_, page := get(t, s, "/")
	assert.Equal(t, cacheSize, strings.Count(page, `<div class="message"`))
	assert.NotContains(t, page, ">msg-004<")
	assert.Contains(t, page, ">msg-005<")
	assert.Contains(t, page, fmt.Sprintf(">msg-%03d<", total-1))
}

// dialStatus dials with origin and returns the HTTP status and body of the
// answer; a successful handshake is closed at once.
func dialStatus(t *testing.T, s *server, origin string) (int, string) {
	t.Helper()
	opts := &websocket.DialOptions{Header: http.Header{}}
	if origin != "" {
		opts.Header.Set("Origin", origin)
	}
	c, resp, err := websocket.Dial(context.Background(), "ws://"+s.addr+"/chatsocket", opts)
	if err == nil {
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
		return resp.StatusCode, ""
	}
	var de *websocket.DialError
	require.ErrorAs(t, err, &de)
	require.NotNil(t, de.Response)
	body, _ := io.ReadAll(de.Response.Body)
	return de.Response.StatusCode, string(body)
}

func TestOrigin(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tests := []struct {
		name, origin string
		want         int
	}{
		{"the page's origin", s.origin(), http.StatusSwitchingProtocols},
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
		{"over 64 KiB", websocket.TextMessage, `{"body": "` + strings.Repeat("x", maxMessageSize) + `"}`, websocket.StatusMessageTooBig},
	}
	for _, tt := range tests {
		c := dial(t, s, nil)
		require.NoError(t, c.WriteMessage(context.Background(), tt.typ, []byte(tt.msg)), tt.name)
		_, _, err := c.ReadMessage(readCtx(t))
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce, tt.name)
		assert.Equal(t, tt.want, ce.Code, tt.name)
	}
	// Nothing bad was cached.
	_, page := get(t, s, "/")
	assert.NotContains(t, page, `class="message"`)
}

func TestDeflate(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-deflate")
	offer := &websocket.DialOptions{Compression: &websocket.CompressionOptions{}}
	a, b := dial(t, s, offer), dial(t, s, &websocket.DialOptions{Compression: &websocket.CompressionOptions{}})
	plain := dial(t, s, nil)
	require.True(t, a.Compressed())
	require.True(t, b.Compressed())
	require.False(t, plain.Compressed())
	body := strings.Repeat("compressible ", 500)
	send(t, a, body)
	for _, c := range []*websocket.Conn{a, b, plain} {
		assert.Equal(t, body, receive(t, c).Body)
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := dial(t, s, nil)
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	_, _, err := c.ReadMessage(readCtx(t))
	var ce *websocket.CloseError
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, websocket.StatusGoingAway, ce.Code)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("server still running 10s after SIGTERM")
	}
	require.NoError(t, s.err, "exit status")
	assert.NotContains(t, s.log.String(), "level=ERROR")
	assert.Contains(t, s.log.String(), `msg="chat: stopped"`)
}
