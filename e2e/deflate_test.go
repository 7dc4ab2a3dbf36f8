package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wsEcho is a script for a page on an echo server: it opens /echo on the
// page's own origin, sends msg, and resolves with the echo and the
// extensions the browser reports as negotiated.
const wsEcho = `new Promise((resolve, reject) => {
	const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/echo");
	ws.onopen = () => ws.send(%[1]q);
	ws.onmessage = (e) => { resolve({data: e.data, extensions: ws.extensions}); ws.close(1000); };
	ws.onerror = () => reject(new Error("websocket error"));
	ws.onclose = (e) => reject(new Error("closed before the echo: " + e.code));
})`

// echoResult is what wsEcho resolves with.
type echoResult struct {
	Data       string `json:"data"`
	Extensions string `json:"extensions"`
}

// handshake is one WebSocket opening handshake as the browser's network
// events report it.
type handshake struct {
	request  *network.WebSocketRequest
	response *network.WebSocketResponse
}

// watchHandshakes records the opening handshakes of p's WebSockets from
// now on. The returned func waits (bounded) for the first handshake whose
// URL has suffix and returns it.
func watchHandshakes(p *page) func(suffix string) handshake {
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	created := chromedp.Events(ctx, network.WebSocketCreated)
	requests := chromedp.Events(ctx, network.WebSocketWillSendHandshakeRequest)
	responses := chromedp.Events(ctx, network.WebSocketHandshakeResponseReceived)
	return func(suffix string) handshake {
		p.t.Helper()
		defer cancel()
		var id network.RequestID
		for ev, err := range created {
			if err != nil {
				p.t.Fatalf("page %s: no WebSocket to %s created: %v", p.name, suffix, err)
			}
			if strings.HasSuffix(ev.URL, suffix) {
				id = ev.RequestID
				break
			}
		}
		var h handshake
		for ev, err := range requests {
			if err != nil {
				p.t.Fatalf("page %s: no handshake request for %s: %v", p.name, suffix, err)
			}
			if ev.RequestID == id {
				h.request = ev.Request
				break
			}
		}
		for ev, err := range responses {
			if err != nil {
				p.t.Fatalf("page %s: no handshake response for %s: %v", p.name, suffix, err)
			}
			if ev.RequestID == id {
				h.response = ev.Response
				break
			}
		}
		return h
	}
}

// header returns a header's value from the browser's report of one, with
// the name matched case-insensitively.
func header(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return fmt.Sprint(v)
		}
	}
	return ""
}

// TestDeflateBrowserOffer checks that Chromium's default offer,
// "permessage-deflate; client_max_window_bits", is accepted by a server
// running with -deflate: the 101 carries the extension, the page's
// WebSocket reports it, and a compressible message round-trips.
func TestDeflateBrowserOffer(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	tests := []struct {
		name    string
		flags   []string
		deflate bool
	}{
		{"echo -deflate", []string{"-deflate"}, true},
		{"echo -deflate -core", []string{"-deflate", "-core"}, true},
		{"echo", nil, false},
	}
	// Servers start before the browser so that the browser (and the idle
	// connections it keeps to them) is gone before they are stopped.
	servers := make([]*server, len(tests))
	for i, tt := range tests {
		servers[i] = startExample(t, "echo", nil, tt.flags...)
	}
	b := newBrowser(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := b.newPage(t, tt.name)
			p.navigate(servers[i].httpURL("/")) // a 404 page, but on the server's origin
			wait := watchHandshakes(p)
			msg := strings.Repeat("compressible chat message ", 200)
			got := eval[echoResult](p, fmt.Sprintf(wsEcho, msg))
			h := wait("/echo")
			assert.Equal(t, msg, got.Data, "the echo")
			checkDeflate(t, h, got.Extensions, tt.deflate)
		})
	}
}

// TestDeflateChatPage: the chat page's own socket negotiates
// permessage-deflate with chat -deflate, and messages still flow.
func TestDeflateChatPage(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	s := startChat(t, "-deflate")
	b := newBrowser(t)
	p := b.newPage(t, "chat")
	wait := watchHandshakes(p)
	openChat(p, s)
	h := wait("/chatsocket")
	ext := eval[string](p, `updater.socket.extensions`)
	checkDeflate(t, h, ext, true)
	// Typing a long message key by key is slow; the user pastes it.
	msg := strings.Repeat("compressed in both directions ", 50)
	p.do(chromedp.SetValue(chromedp.ID("message"), msg))
	post(p, "")
	waitInbox(p, msg)
}

// checkDeflate checks that the browser offered permessage-deflate, and that
// the 101 and the page's ws.extensions agree on whether it was accepted.
func checkDeflate(t *testing.T, h handshake, pageExtensions string, want bool) {
	t.Helper()
	offer := header(h.request.Headers, "Sec-WebSocket-Extensions")
	require.Contains(t, offer, "permessage-deflate", "the browser's Sec-WebSocket-Extensions")
	require.EqualValues(t, 101, h.response.Status, "handshake status")
	answer := header(h.response.Headers, "Sec-WebSocket-Extensions")
	t.Logf("browser offered %q, server answered %q", offer, answer)
	if !want {
		assert.Empty(t, answer, "the 101's Sec-WebSocket-Extensions without -deflate")
		assert.Empty(t, pageExtensions, "ws.extensions without -deflate")
		return
	}
	assert.True(t, strings.HasPrefix(answer, "permessage-deflate"), "the 101's Sec-WebSocket-Extensions %q", answer)
	assert.Equal(t, answer, pageExtensions, "the page's ws.extensions against the 101")
}
