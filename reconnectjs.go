package tornago

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"
)

//go:embed js/reconnect.js
var reconnectJS []byte

// ReconnectJSVersion is a hash of the script ReconnectJS serves. A URL
// carrying it, "/reconnect.js?v=" + ReconnectJSVersion, changes whenever
// the script does, so such requests are cached for a year, as Tornado's
// static_url.
var ReconnectJSVersion = func() string {
	sum := sha256.Sum256(reconnectJS)
	return hex.EncodeToString(sum[:])[:16]
}()

// ReconnectJS serves the browser client of docs/deploy.md ("Clients that
// reconnect"): ReconnectingWebSocket, a WebSocket that reconnects by itself
// with exponential backoff and jitter, an optional heartbeat, and an
// onreconnect hook to resubscribe. Route it in any mux,
//
//	mux.Handle("GET /reconnect.js", tornago.ReconnectJS)
//
// or among an Application's routes with ReconnectJSRoute, and load it with
// <script src="/reconnect.js?v={{.ReconnectJSVersion}}">. Requests whose v
// argument is ReconnectJSVersion get a year-long Cache-Control; others
// must revalidate (ETag), so a framework upgrade reaches browsers. GET and
// HEAD only.
var ReconnectJS http.Handler = reconnectJSHandler{}

// ReconnectJSRoute returns a Route serving ReconnectJS's script at pattern
// (for example `/reconnect\.js`), for applications without another mux.
func ReconnectJSRoute(pattern string) Route {
	return Route{Pattern: pattern, Handler: func() Handler { return &reconnectJSPage{} }}
}

// reconnectJSHeaders sets the script's headers for r on h.
func reconnectJSHeaders(h http.Header, r *http.Request) {
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Etag", `"`+ReconnectJSVersion+`"`)
	if r.URL.Query().Get("v") == ReconnectJSVersion {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
}

type reconnectJSHandler struct{}

func (reconnectJSHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	reconnectJSHeaders(w.Header(), r)
	// The embedded file has no modification time: the ETag decides.
	http.ServeContent(w, r, "reconnect.js", time.Time{}, bytes.NewReader(reconnectJS))
}

// reconnectJSPage is ReconnectJS as a route's handler.
type reconnectJSPage struct{ RequestHandler }

// Get writes the script, or 304 when the client has it.
func (h *reconnectJSPage) Get(args ...string) error {
	r := h.request()
	reconnectJSHeaders(h.header, r)
	if etagMatches(r.Header.Get("If-None-Match"), h.header.Get("Etag")) {
		h.SetStatus(http.StatusNotModified)
		return nil
	}
	return h.Write(reconnectJS)
}
