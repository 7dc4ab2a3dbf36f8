package e2e

import (
	"bytes"
	"fmt"
	"image/png"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/tornagotest"
)

// startChat runs examples/chat with its templates and static files from
// the source tree.
func startChat(t *testing.T, flags ...string) *server {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "examples", "chat"))
	require.NoError(t, err)
	return startExample(t, "chat", nil, append([]string{"-dir", dir}, flags...)...)
}

// openChat loads the chat page of s in p (from base instead, if given: a
// proxy's URL) and waits until its socket is open.
func openChat(p *page, s *server, base ...string) {
	p.t.Helper()
	where := s.httpURL("/")
	if len(base) > 0 {
		where = base[0] + "/"
	}
	p.navigate(where)
	p.waitJS(`updater.socket && updater.socket.readyState === WebSocket.OPEN`, "the chat socket to open")
}

// post types text into the page's message box and presses Enter, as a user
// does; the page's submit handler sends it over the socket.
func post(p *page, text string) {
	p.t.Helper()
	p.do(chromedp.SendKeys(chromedp.ID("message"), text+kb.Enter))
}

// chatMessage is one message element of the inbox.
type chatMessage struct {
	ID    string   `json:"id"`
	Text  string   `json:"text"`
	Links []string `json:"links"` // hrefs of the links in it
	Tags  []string `json:"tags"`  // tag names of every element inside it
}

// inbox reads the page's messages, oldest first.
func inbox(p *page) []chatMessage {
	p.t.Helper()
	return eval[[]chatMessage](p, `Array.from(document.querySelectorAll("#inbox .message"), (m) => ({
		id: m.id,
		text: m.textContent,
		links: Array.from(m.querySelectorAll("a"), (a) => a.href),
		tags: Array.from(m.querySelectorAll("*"), (e) => e.tagName.toLowerCase()),
	}))`)
}

// waitInbox waits until some message of p's inbox has exactly text.
func waitInbox(p *page, text string) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf(`Array.from(document.querySelectorAll("#inbox .message")).some((m) => m.textContent === %q)`, text),
		fmt.Sprintf("the message %q in the inbox", text))
}

// closeEvent is a WebSocket CloseEvent as a page saw it.
type closeEvent struct {
	Code     int    `json:"code"`
	Reason   string `json:"reason"`
	WasClean bool   `json:"wasClean"`
}

// recordClose makes the chat socket of p keep its close event for
// waitClose, then sends the JavaScript expression send on it, if any.
func recordClose(p *page, send string) {
	p.t.Helper()
	if send == "" {
		send = "undefined"
	}
	eval[chromedp.Void](p, fmt.Sprintf(`(() => {
		updater.socket.addEventListener("close", (e) => {
			window.socketClosed = {code: e.code, reason: e.reason, wasClean: e.wasClean};
		});
		const data = %s;
		if (data !== undefined) updater.socket.send(data);
	})()`, send))
}

// waitClose waits for the close event recordClose keeps and returns it.
func waitClose(p *page) closeEvent {
	p.t.Helper()
	p.waitJS(`window.socketClosed`, "the socket to close")
	return eval[closeEvent](p, `window.socketClosed`)
}

// TestChatTwoTabs: two tabs on the chat page see each other's messages
// (and their own) live, and a reloaded tab shows them from the server's
// history, in order, with the same ids and the same escaping.
func TestChatTwoTabs(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	s := startChat(t)
	b := newBrowser(t)
	a := b.newPage(t, "A")
	bb := b.newPage(t, "B")
	openChat(a, s)
	openChat(bb, s)
	require.Empty(t, inbox(a), "a new chat shows messages")

	// Markup must arrive as text; the URL becomes a link (linkify).
	first := `hello from A <b>not bold</b> & see http://example.com/x?a=1`
	second := "réponse de B ✓"
	post(a, first)
	waitInbox(a, first)
	waitInbox(bb, first)
	assert.Empty(t, eval[string](a, `document.getElementById("message").value`), "A's input after sending")
	post(bb, second)
	waitInbox(bb, second)
	waitInbox(a, second)

	live := inbox(a)
	assert.Equal(t, live, inbox(bb), "the tabs disagree")
	checkMessages(t, "live", live, first, second)

	bb.do(chromedp.Reload())
	waitInbox(bb, second)
	history := inbox(bb)
	checkMessages(t, "after reload", history, first, second)
	assert.Equal(t, live, history, "the history differs from what the tabs saw live")

	// The reloaded tab is a member again: it sees new messages.
	bb.waitJS(`updater.socket && updater.socket.readyState === WebSocket.OPEN`, "the chat socket to reopen")
	third := "after the reload"
	post(a, third)
	waitInbox(bb, third)
}

// checkMessages checks msgs are exactly first and second, in order, with
// the markup of first shown as text and its URL as the only link.
func checkMessages(t *testing.T, when string, msgs []chatMessage, first, second string) {
	t.Helper()
	require.Len(t, msgs, 2, "%s: %+v", when, msgs)
	assert.Equal(t, first, msgs[0].Text, when)
	assert.Equal(t, second, msgs[1].Text, when)
	assert.Equal(t, []string{"a"}, msgs[0].Tags, "%s: elements inside the first message (markup must be escaped)", when)
	assert.Equal(t, []string{"http://example.com/x?a=1"}, msgs[0].Links, "%s: links", when)
	assert.Empty(t, msgs[1].Tags, when)
	for _, m := range msgs {
		assert.Regexp(t, `^m[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, m.ID, "%s: id of m + a UUID v4", when)
	}
}

// crossOriginPage opens a WebSocket to the URL in its query string and
// records what the browser tells the page about it in window.outcome.
const crossOriginPage = `<!DOCTYPE html>
<title>another origin</title>
<script>
window.outcome = {events: []};
const ws = new WebSocket(new URLSearchParams(location.search).get("ws"));
ws.onopen = () => window.outcome.events.push("open");
ws.onerror = () => window.outcome.events.push("error");
ws.onclose = (e) => {
	window.outcome.events.push("close");
	window.outcome.code = e.code;
	window.outcome.wasClean = e.wasClean;
	window.outcome.done = true;
};
</script>`

// outcome is what crossOriginPage (and the notify page checks) record.
type outcome struct {
	Events   []string `json:"events"`
	Code     int      `json:"code"`
	WasClean bool     `json:"wasClean"`
	Done     bool     `json:"done"`
}

// TestChatCrossOriginRefused: a page from another origin (another port on
// the same host) cannot open the chat socket. The browser sends its
// Origin, the server answers 403, and the page only sees an error and
// close code 1006; the status is read from the browser's console report
// and from a Go client sending the same Origin.
func TestChatCrossOriginRefused(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	s := startChat(t)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, crossOriginPage)
	}))
	t.Cleanup(other.Close)
	b := newBrowser(t)
	p := b.newPage(t, "other origin")

	p.navigate(other.URL + "/?ws=" + s.wsURL("/chatsocket"))
	p.waitJS(`window.outcome.done`, "the socket to close")
	got := eval[outcome](p, `window.outcome`)
	assert.Equal(t, outcome{Events: []string{"error", "close"}, Code: 1006, WasClean: false, Done: true}, got,
		"the page sees a failed handshake only as an error and an unclean close")

	// Chromium writes the handshake's status to the page's console, and
	// the server's access log has the refusal.
	p.waitJSConsole("Error during WebSocket handshake: Unexpected response code: 403", "the browser's report of the 403")
	s.waitLog(t, "403 GET /chatsocket")

	status, body := dialStatus(t, s, "/chatsocket", other.URL)
	assert.Equal(t, http.StatusForbidden, status, "Go client with Origin %s", other.URL)
	assert.Contains(t, body, "Cross origin websockets not allowed", "403 body")
	// The same origin as the page is let in (the control for the check above).
	status, _ = dialStatus(t, s, "/chatsocket", s.httpURL(""))
	assert.Equal(t, http.StatusSwitchingProtocols, status, "Go client with the chat's own origin")
}

// waitJSConsole waits until the page's console has a line holding s.
func (p *page) waitJSConsole(s, what string) {
	p.t.Helper()
	deadline := time.Now().Add(actionTimeout)
	for !p.consoleContains(s) {
		if time.Now().After(deadline) {
			p.t.Errorf("page %s: waited %v for %s (%q in the console)", p.name, actionTimeout, what, s)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dialStatus opens a WebSocket to path on s from Go with the given Origin
// (none if empty) and cookies, and returns the status of the answer and its
// body; a successful handshake is closed at once.
func dialStatus(t *testing.T, s *server, path, origin string, cookies ...*http.Cookie) (int, string) {
	t.Helper()
	c := tornagotest.NewClient(t, s.httpURL(""))
	c.Timeout = actionTimeout
	c.Origin = origin
	for _, ck := range cookies {
		c.SetCookie(ck)
	}
	resp := c.Handshake(path, nil)
	return resp.StatusCode, resp.Body
}

// TestChatScreenshot saves a full-page PNG of the chat with a message in
// it under the test's temp dir and checks that it decodes to an image that
// is not one flat color. How many colors the page has depends on the
// browser build's fonts and anti-aliasing, so that the message is there
// and visible is checked through the DOM: its text, a non-empty box inside
// the viewport, and that it is what the page shows at that point.
func TestChatScreenshot(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	s := startChat(t)
	b := newBrowser(t)
	p := b.newPage(t, "chat")
	openChat(p, s)
	const text = "a message for the screenshot"
	post(p, text)
	waitInbox(p, text)

	shot := run(p, chromedp.FullScreenshot(100)) // quality 100 means PNG
	path := filepath.Join(t.TempDir(), "chat.png")
	if d := os.Getenv("E2E_SCREENSHOT_DIR"); d != "" {
		path = filepath.Join(d, "chat.png") // kept for a person to look at
	}
	require.NoError(t, os.WriteFile(path, shot, 0o644))
	img, err := png.Decode(bytes.NewReader(shot))
	require.NoError(t, err, "screenshot is not a PNG")
	bounds := img.Bounds()
	require.True(t, bounds.Dx() >= 100 && bounds.Dy() >= 100, "screenshot is %v", bounds)
	first := img.At(bounds.Min.X, bounds.Min.Y)
	flat := true
	for y := bounds.Min.Y; y < bounds.Max.Y && flat; y++ {
		for x := bounds.Min.X; x < bounds.Max.X && flat; x++ {
			flat = img.At(x, y) == first
		}
	}
	assert.False(t, flat, "screenshot %v is one flat color", bounds)
	t.Logf("screenshot: %s (%d bytes, %dx%d)", path, len(shot), bounds.Dx(), bounds.Dy())

	type shown struct {
		Text       string  `json:"text"`
		Width      float64 `json:"width"`
		Height     float64 `json:"height"`
		InViewport bool    `json:"inViewport"`
		OnTop      bool    `json:"onTop"`
		Styled     bool    `json:"styled"`
	}
	got := eval[shown](p, fmt.Sprintf(`(() => {
		const m = Array.from(document.querySelectorAll("#inbox .message")).find((m) => m.textContent === %q);
		const r = m.getBoundingClientRect(), st = getComputedStyle(m);
		const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		return {
			text: m.textContent, width: r.width, height: r.height,
			inViewport: r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth,
			onTop: hit !== null && m.contains(hit),
			styled: st.display !== "none" && st.visibility === "visible" && st.opacity !== "0",
		};
	})()`, text))
	assert.Equal(t, text, got.Text)
	assert.Positive(t, got.Width, "the message's box")
	assert.Positive(t, got.Height, "the message's box")
	assert.True(t, got.InViewport, "the message lies in the viewport: %+v", got)
	assert.True(t, got.OnTop, "nothing covers the message: %+v", got)
	assert.True(t, got.Styled, "the message is not hidden by CSS: %+v", got)
}

// TestChatServerShutdown: SIGTERM to the server closes the open page's
// socket with a clean 1001, not a dropped connection, while a connection
// that has sent no request is still open: Chromium opens such spare
// connections ahead of need (seen here: a restart in TestNotifyKeyRotation
// took 5 s more with one), and http.Server.Shutdown waits up to 5 s for
// them. The test opens one itself so that the case does not depend on the
// browser's timing.
func TestChatServerShutdown(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	s := startChat(t)
	b := newBrowser(t)
	p := b.newPage(t, "chat")
	openChat(p, s)
	spare, err := net.Dial("tcp", s.Addr)
	require.NoError(t, err)
	defer spare.Close()
	// The server must have accepted the spare connection before it stops
	// listening (a connection still in the listen queue is reset then):
	// it accepts in order, so once a later connection has been served,
	// the spare has been accepted too.
	later := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: actionTimeout}
	resp, err := later.Get(s.httpURL("/"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	recordClose(p, "")
	require.NoError(t, s.Cmd.Process.Signal(syscall.SIGTERM))
	got := waitClose(p)
	assert.Equal(t, closeEvent{Code: 1001, Reason: "server shutting down", WasClean: true}, got)
	// The order of events, not their timing: had the WebSockets been closed
	// only after http.Server.Shutdown returned, the server would have closed
	// the spare connection first (Shutdown waits for it, then drops it as
	// idle), and its EOF would be waiting here already.
	require.NoError(t, spare.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	_, err = spare.Read(make([]byte, 1))
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded, "the server closed the spare connection before the page's "+
		"socket: Application.Shutdown closes WebSockets only after http.Server.Shutdown returns")
	spare.Close() // net/http's Shutdown may still wait for it before the process exits
	select {
	case <-s.Exited:
	case <-time.After(actionTimeout):
		t.Fatalf("chat still running %v after SIGTERM", actionTimeout)
	}
	assert.NoError(t, s.Err, "chat's exit")
}

// TestChatRefusedMessages: what the chat does not accept closes the
// sender's socket with the right code, as the browser reports it. The
// 64 KiB limit counts inflated bytes: with -deflate the browser sends the
// oversized message as a tiny compressed frame, and it is refused all the
// same.
func TestChatRefusedMessages(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	plain := startChat(t)
	deflate := startChat(t, "-deflate")
	b := newBrowser(t)
	tests := []struct {
		name string
		s    *server
		send string // JavaScript expression of what the page sends
		code int
	}{
		{"oversized", plain, `"x".repeat(65 * 1024)`, 1009},
		{"oversized compressed", deflate, `JSON.stringify({body: "x".repeat(65 * 1024)})`, 1009},
		{"binary", plain, `new Uint8Array([123, 125])`, 1003},
		{"not JSON", plain, `"hello"`, 1003},
		{"no body", deflate, `JSON.stringify({text: "hello"})`, 1003},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := b.newPage(t, tt.name)
			openChat(p, tt.s)
			ext := eval[string](p, `updater.socket.extensions`)
			require.Equal(t, tt.s == deflate, strings.HasPrefix(ext, "permessage-deflate"), "socket extensions %q", ext)
			recordClose(p, tt.send)
			got := waitClose(p)
			assert.Equal(t, tt.code, got.Code, "%+v", got)
			assert.True(t, got.WasClean, "%+v", got)
			t.Logf("close %d %q", got.Code, got.Reason)
		})
	}
	// Nothing refused reached the other members or the history.
	p := b.newPage(t, "after")
	for _, s := range []*server{plain, deflate} {
		openChat(p, s)
		assert.Empty(t, inbox(p), "the history after refused messages")
	}
}

// TestChatOverHTTPS: behind a TLS-terminating reverse proxy (a common
// deployment), the page's script dials wss: (Tornado's demo dials ws:,
// which a browser blocks as mixed content) and the chat works; the origin
// check passes because the proxy keeps the browser's Host.
func TestChatOverHTTPS(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	s := startChat(t)
	target, err := url.Parse(s.httpURL("/"))
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(target)
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	rp.Transport = transport
	proxy := httptest.NewUnstartedServer(rp)
	proxy.Config.ErrorLog = log.New(io.Discard, "", 0) // the browser's aborted connections
	proxy.StartTLS()
	t.Cleanup(proxy.Close)
	b := newBrowser(t, chromedp.IgnoreCertErrors) // the proxy's certificate is self-signed
	p := b.newPage(t, "https")
	openChat(p, s, proxy.URL)
	assert.True(t, strings.HasPrefix(eval[string](p, `updater.socket.url`), "wss://"), "the page under https dials wss:")
	post(p, "over TLS")
	waitInbox(p, "over TLS")
}
