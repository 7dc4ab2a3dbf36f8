package tornago

import (
	"fmt"
	"log/slog"
	"time"
)

// logAccess writes Tornado's access log line, "200 GET /path?q=1 (127.0.0.1)
// 1.23ms", once per request: at Info below 400, Warn below 500, Error above.
// The same values are attached as attributes (status, method, uri, remote_ip,
// duration) for structured handlers, with two Tornado's line lacks: proto
// (HTTP/1.1, HTTP/2.0: which protocol a WebSocket came over) and peer, the
// TCP peer's address with its port (the connection, which several HTTP/2
// requests and WebSockets share).
func (h *RequestHandler) logAccess() {
	if h.logged || h.app == nil {
		return
	}
	h.logged = true
	level := slog.LevelInfo
	switch {
	case h.status >= 500:
		level = slog.LevelError
	case h.status >= 400:
		level = slog.LevelWarn
	}
	logger := h.app.logger
	if !logger.Enabled(h.r.Context(), level) {
		return
	}
	d := time.Since(h.start)
	msg := fmt.Sprintf("%d %s %.2fms", h.status, h.summary(), float64(d.Microseconds())/1000)
	logger.LogAttrs(h.r.Context(), level, msg,
		slog.Int("status", h.status),
		slog.String("method", h.r.Method),
		slog.String("uri", h.requestURI()),
		slog.String("remote_ip", h.RemoteIP()),
		slog.Duration("duration", d),
		slog.String("proto", h.r.Proto),
		slog.String("peer", h.r.RemoteAddr))
}

// summary is Tornado's _request_summary: "GET /path?q=1 (127.0.0.1)".
func (h *RequestHandler) summary() string {
	return h.r.Method + " " + h.requestURI() + " (" + h.RemoteIP() + ")"
}

// requestURI is the request target as the client sent it.
func (h *RequestHandler) requestURI() string {
	if h.r.RequestURI != "" {
		return h.r.RequestURI
	}
	return h.r.URL.RequestURI()
}

// RemoteIP returns the client's IP address (Tornado's remote_ip): the
// connection's peer address, or, when the peer is one of
// Settings.TrustedProxies, the client address it forwarded (proxy.go).
func (h *RequestHandler) RemoteIP() string { return h.app.clientView(h.r).ip }
