package tornago_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/testenv"
)

func TestReconnectJSHandler(t *testing.T) {
	t.Parallel()
	app, err := tornago.NewApplication([]tornago.Route{tornago.ReconnectJSRoute(`/reconnect\.js`)},
		tornago.Settings{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	for name, h := range map[string]http.Handler{"http.Handler": tornago.ReconnectJS, "Route": app} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testReconnectJSServer(t, h)
		})
	}
}

func testReconnectJSServer(t *testing.T, h http.Handler) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	want, err := os.ReadFile("js/reconnect.js")
	require.NoError(t, err)

	get := func(path string, header http.Header) (*http.Response, string) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		if header != nil {
			req.Header = header
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(body)
	}

	resp, body := get("/reconnect.js", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, string(want), body)
	assert.Equal(t, "text/javascript; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
	etag := resp.Header.Get("ETag")
	assert.Equal(t, `"`+tornago.ReconnectJSVersion+`"`, etag)

	resp, body = get("/reconnect.js?v="+tornago.ReconnectJSVersion, nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, string(want), body)
	assert.Equal(t, "public, max-age=31536000, immutable", resp.Header.Get("Cache-Control"))

	resp, body = get("/reconnect.js?v=stale", nil)
	assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"), "an old version's URL must not be cached for good")
	assert.Equal(t, string(want), body)

	resp, body = get("/reconnect.js", http.Header{"If-None-Match": {etag}})
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)
	assert.Empty(t, body)

	head, err := srv.Client().Head(srv.URL + "/reconnect.js")
	require.NoError(t, err)
	head.Body.Close()
	assert.Equal(t, http.StatusOK, head.StatusCode)
	assert.Equal(t, etag, head.Header.Get("ETag"))

	resp, err = srv.Client().Post(srv.URL+"/reconnect.js", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// jsEcho echoes every message (so the script's heartbeat is answered).
type jsEcho struct{ tornago.WebSocketHandler }

func (h *jsEcho) OnMessage(m tornago.Message) error { return h.WriteMessage(m.Data, m.Binary) }

// jsSilent never answers: a peer whose connection stays open but is dead.
type jsSilent struct{ tornago.WebSocketHandler }

// jsServer serves /echo and /silent, and routes, on addr ("" for any
// port) until stopped; stop is Application.Shutdown, which closes sockets
// with 1001.
func jsServer(t *testing.T, addr string, routes ...tornago.Route) (string, func()) {
	t.Helper()
	app, err := tornago.NewApplication(append([]tornago.Route{
		{Pattern: `/echo`, Handler: func() tornago.Handler { return &jsEcho{} }},
		{Pattern: `/silent`, Handler: func() tornago.Handler { return &jsSilent{} }},
	}, routes...), tornago.Settings{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var l net.Listener
	require.Eventually(t, func() bool { // the old server's port may linger
		l, err = net.Listen("tcp", addr)
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	served := make(chan error, 1)
	go func() { served <- app.Serve(l) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, app.Shutdown(ctx))
		require.NoError(t, <-served)
	}
	t.Cleanup(stop)
	return l.Addr().String(), stop
}

// jsEvent is one line of js/testdata/harness.js.
type jsEvent struct {
	Event   string `json:"event"`
	Data    string `json:"data"`
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Attempt int    `json:"attempt"`
	Delay   int    `json:"delay"`
	OK      bool   `json:"ok"`
	// The hub's wire protocol.
	Room      string      `json:"room"`
	ID        string      `json:"id"`
	Recovered *bool       `json:"recovered"`
	Position  *jsPosition `json:"position"`
	Kind      string      `json:"kind"`
	Client    *struct {
		ClientID string `json:"client"`
		UserID   string `json:"user"`
	} `json:"client"`
}

// jsPosition is a position as the script reports it.
type jsPosition struct {
	Epoch  string `json:"epoch"`
	Offset uint64 `json:"offset"`
}

// jsClient runs js/reconnect.js in Node through the harness.
type jsClient struct {
	t      *testing.T
	stdin  io.Writer
	events chan jsEvent
}

// wsImpl is a WebSocket implementation the harness can give the script:
// Node's own (undici, from Node 22, behind a flag from 20.10) or the ws npm
// package that .ci/run installs for the interop tests.
type wsImpl struct {
	name  string
	flags []string // node's
	env   string
}

// nodeWebSockets returns node and the implementations it can use, or
// skips (fails in CI) if none.
func nodeWebSockets(t *testing.T) (string, []wsImpl) {
	t.Helper()
	node := testenv.LookPath(t, "node")
	var impls []wsImpl
	const probe = `process.exit(typeof WebSocket === "function" ? 0 : 1)`
	for _, flags := range [][]string{nil, {"--experimental-websocket"}} {
		if exec.Command(node, append(append([]string{}, flags...), "-e", probe)...).Run() == nil {
			impls = append(impls, wsImpl{name: "undici", flags: flags})
			break
		}
	}
	if _, err := os.Stat("websocket/testdata/node/node_modules/ws/package.json"); err == nil {
		impls = append(impls, wsImpl{name: "ws", env: "TORNAGO_WS_IMPL=ws"})
	}
	if len(impls) == 0 {
		testenv.Missing(t, "a WebSocket for Node: Node 20.10 or later, or the ws package (npm ci --prefix websocket/testdata/node)")
	}
	return node, impls
}

// forEachWebSocket runs f as a subtest with each implementation.
func forEachWebSocket(t *testing.T, f func(t *testing.T, node string, impl wsImpl)) {
	node, impls := nodeWebSockets(t)
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			f(t, node, impl)
		})
	}
}

func startJSClient(t *testing.T, node string, impl wsImpl, url string, options map[string]any) *jsClient {
	t.Helper()
	opts, err := json.Marshal(options)
	require.NoError(t, err)
	cmd := exec.Command(node, append(append([]string{}, impl.flags...), "js/testdata/harness.js", url, string(opts))...)
	cmd.Env = os.Environ()
	if impl.env != "" {
		cmd.Env = append(cmd.Env, impl.env)
	}
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	c := &jsClient{t: t, stdin: stdin, events: make(chan jsEvent, 1000)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var e jsEvent
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				c.events <- e
			}
		}
	}()
	t.Cleanup(func() {
		io.WriteString(stdin, "close\n")
		stdin.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		cmd.Wait()
	})
	return c
}

// next returns the next event that is not "connecting" (collected in
// skipped, if not nil).
func (c *jsClient) next(skipped *[]jsEvent) jsEvent {
	c.t.Helper()
	for {
		select {
		case e := <-c.events:
			c.t.Logf("script: %+v", e)
			if e.Event == "connecting" {
				if skipped != nil {
					*skipped = append(*skipped, e)
				}
				continue
			}
			return e
		case <-time.After(10 * time.Second):
			c.t.Fatal("no event from the script within 10 s")
			return jsEvent{}
		}
	}
}

func (c *jsClient) send(text string) {
	c.t.Helper()
	_, err := io.WriteString(c.stdin, "send "+text+"\n")
	require.NoError(c.t, err)
}

// TestReconnectJSServerRestart: the script reconnects by itself when the
// server goes away and comes back, with growing jittered delays meanwhile,
// sends what was queued while disconnected, and fires onreconnect for the
// page to resync.
func TestReconnectJSServerRestart(t *testing.T) {
	t.Parallel()
	forEachWebSocket(t, testReconnectJSServerRestart)
}

func testReconnectJSServerRestart(t *testing.T, node string, impl wsImpl) {
	addr, stop := jsServer(t, "")
	c := startJSClient(t, node, impl, "ws://"+addr+"/echo", map[string]any{"minDelay": 40, "maxDelay": 320})

	require.Equal(t, "open", c.next(nil).Event)
	c.send("hello")
	assert.Equal(t, jsEvent{Event: "sent", OK: true}, c.next(nil))
	assert.Equal(t, jsEvent{Event: "message", Data: "hello"}, c.next(nil))

	stop() // closes with 1001, then refuses connections
	e := c.next(nil)
	assert.Equal(t, "close", e.Event)
	assert.Equal(t, 1001, e.Code)
	c.send("queued while down")
	var connecting []jsEvent
	assert.Equal(t, jsEvent{Event: "sent", OK: true}, c.next(&connecting))
	for len(connecting) < 3 { // a few attempts, each refused
		require.Equal(t, "close", c.next(&connecting).Event, "a refused attempt")
	}

	_, stop2 := jsServer(t, addr)
	defer stop2()
	var events []jsEvent
	for len(events) < 4 {
		e := c.next(&connecting)
		if e.Event == "close" { // a refused attempt
			continue
		}
		events = append(events, e)
	}
	assert.Equal(t, []jsEvent{
		{Event: "open"},
		{Event: "reconnect"},
		{Event: "message", Data: "queued while down"},
		{Event: "message", Data: "resync"},
	}, events)

	require.GreaterOrEqual(t, len(connecting), 3, "attempts while the server was down")
	for i, e := range connecting {
		assert.Equal(t, i+1, e.Attempt)
		full := min(320, 40<<i)
		assert.GreaterOrEqual(t, e.Delay, full/2, "attempt %d", e.Attempt)
		assert.Less(t, e.Delay, full, "attempt %d", e.Attempt)
	}
}

// TestReconnectJSHeartbeat: a connection whose peer stops answering is
// dropped after heartbeatTimeout and reopened; one that answers is kept.
func TestReconnectJSHeartbeat(t *testing.T) {
	t.Parallel()
	forEachWebSocket(t, testReconnectJSHeartbeat)
}

func testReconnectJSHeartbeat(t *testing.T, node string, impl wsImpl) {
	addr, _ := jsServer(t, "")
	// The silent peer is dropped 150 ms after a heartbeat. The answering
	// one has a second to answer each (a loaded machine running Node and
	// the race detector can take far longer than 150 ms), and is watched
	// for 2.5 s, long enough for a script that ignored answers to drop it.
	silent := startJSClient(t, node, impl, "ws://"+addr+"/silent",
		map[string]any{"minDelay": 40, "heartbeatInterval": 100, "heartbeatTimeout": 150})
	require.Equal(t, "open", silent.next(nil).Event)
	e := silent.next(nil)
	assert.Equal(t, "close", e.Event)
	assert.Equal(t, "heartbeat timeout", e.Reason)
	assert.Equal(t, "open", silent.next(nil).Event)
	assert.Equal(t, "reconnect", silent.next(nil).Event)

	echo := startJSClient(t, node, impl, "ws://"+addr+"/echo",
		map[string]any{"minDelay": 40, "heartbeatInterval": 100, "heartbeatTimeout": 1000})
	require.Equal(t, "open", echo.next(nil).Event)
	deadline := time.After(2500 * time.Millisecond)
	answered := 0
	for {
		select {
		case e := <-echo.events:
			require.Equal(t, jsEvent{Event: "message", Data: "ping"}, e, "the answered connection must stay open")
			answered++
			continue
		case <-deadline:
		}
		break
	}
	assert.GreaterOrEqual(t, answered, 2, "heartbeats answered")
}
