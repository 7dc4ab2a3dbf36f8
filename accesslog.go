package tornago

import (
	"log/slog"
	"strconv"
	"time"
)

// logAccess writes Tornado's access log line, "200 GET /path?q=1 (127.0.0.1)
// 1.23ms", once per request: at Info below 400, Warn below 500, Error above.
// The same values are attached as attributes (status, method, uri, remote_ip,
// duration) for structured handlers, with two Tornado's line lacks: proto
// (HTTP/1.1, HTTP/2.0: which protocol a WebSocket came over) and peer, the
// TCP peer's address with its port (the connection, which several HTTP/2
// requests and WebSockets share). The records carry no source position
// (slog.HandlerOptions.AddSource): it would always be this function.
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
	logger, req := h.app.logger, h.request()
	if !logger.Enabled(req.Context(), level) {
		return
	}
	now := time.Now()
	d := now.Sub(h.start)
	uri, ip := h.requestURI(), h.RemoteIP()
	// The record is made here, not by logger.LogAttrs: that would look up
	// the caller's source position (runtime.Callers walks the stack),
	// which for an access line is always this function.
	r := slog.NewRecord(now, level, accessLine(h.status, req.Method, uri, ip, d), 0)
	r.AddAttrs(
		slog.Int("status", h.status),
		slog.String("method", req.Method),
		slog.String("uri", uri),
		slog.String("remote_ip", ip),
		slog.Duration("duration", d),
		slog.String("proto", req.Proto),
		slog.String("peer", req.RemoteAddr))
	_ = logger.Handler().Handle(req.Context(), r)
}

// accessLine is Tornado's "%d %s %.2fms" of the status, the request's
// summary and the duration in milliseconds, built by appending into one
// allocation (fmt.Sprintf's boxed arguments and a separate summary made
// several).
func accessLine(status int, method, uri, ip string, d time.Duration) string {
	var buf [128]byte
	b := strconv.AppendInt(buf[:0], int64(status), 10)
	b = appendSummary(append(b, ' '), method, uri, ip)
	b = strconv.AppendFloat(append(b, ' '), float64(d.Microseconds())/1000, 'f', 2, 64)
	return string(append(b, "ms"...))
}

// summary is Tornado's _request_summary: "GET /path?q=1 (127.0.0.1)".
func (h *RequestHandler) summary() string {
	return string(appendSummary(nil, h.request().Method, h.requestURI(), h.RemoteIP()))
}

// appendSummary appends the summary of a request to b.
func appendSummary(b []byte, method, uri, ip string) []byte {
	b = append(append(append(b, method...), ' '), uri...)
	return append(append(append(b, " ("...), ip...), ')')
}

// requestURI is the request target as the client sent it.
func (h *RequestHandler) requestURI() string {
	r := h.request()
	if r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// RemoteIP returns the client's IP address (Tornado's remote_ip): the
// connection's peer address, or, when the peer is one of
// Settings.TrustedProxies, the client address it forwarded (proxy.go).
func (h *RequestHandler) RemoteIP() string { return h.app.clientView(h.request()).ip }
