package tornago

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// Stall bounds for ordinary HTTP requests (Settings.BodyStallTimeout and
// WriteStallTimeout). They are connection deadlines set per request through
// http.ResponseController and moved on as data flows, not http.Server's
// ReadTimeout/WriteTimeout: those cap a whole request or response (and
// would cut a long, healthy download), exist only on servers we build, and
// leave deadlines on the connection that a WebSocket hijacked from it
// inherits. WebSocket handlers get none of this (Application.serve).

// stallPiece is how much of a response is written under one write deadline:
// a client must take in this much per WriteStallTimeout to be progressing.
// Small enough that a trickling reader (under 300 B/s at 60 s) still counts
// as moving; large enough to keep socket writes big.
const stallPiece = 16 << 10

// boundStalls arms the stall bounds for one non-WebSocket request: a write
// deadline now (which also replaces one a previous request on the same
// keep-alive connection left behind) and a body that renews its read
// deadline on every read. It returns what finishStalls needs.
func (a *Application) boundStalls(w http.ResponseWriter, r *http.Request) *stallBody {
	rc := http.NewResponseController(w)
	if d := a.settings.WriteStallTimeout; d > 0 {
		_ = rc.SetWriteDeadline(time.Now().Add(d)) // ErrNotSupported: a wrapper without Unwrap; nothing to bound
	}
	d := a.settings.BodyStallTimeout
	if d <= 0 || r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	b := &stallBody{ReadCloser: r.Body, w: w, rc: rc, d: d}
	r.Body = b
	return b
}

// finishStalls bounds what net/http does once the handler has returned:
// flushing the buffered end of the response, and reading (up to 256 KiB of)
// a body the handler left unread, to reuse the connection.
func (a *Application) finishStalls(w http.ResponseWriter, body *stallBody) {
	rc := http.NewResponseController(w)
	if d := a.settings.WriteStallTimeout; d > 0 {
		_ = rc.SetWriteDeadline(time.Now().Add(d))
	}
	if body != nil && !body.eof {
		_ = rc.SetReadDeadline(time.Now().Add(body.d))
	}
}

// clearWriteDeadline removes a write deadline a previous request on the
// connection left, before a WebSocket handler answers (its hijacked
// connection must have none; websocket.Accept clears both again).
func clearWriteDeadline(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
}

// stallBody is a request body whose every read must get data within d.
type stallBody struct {
	io.ReadCloser
	w   http.ResponseWriter
	rc  *http.ResponseController
	d   time.Duration
	eof bool
}

func (b *stallBody) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(b.d))
	n, err := b.ReadCloser.Read(p)
	switch {
	case errors.Is(err, io.EOF):
		// net/http now reads in the background to notice a hang-up; a
		// deadline left behind would end that read and cancel the
		// request's context in the middle of a long response.
		b.eof = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil:
		// The rest of the body cannot be read to reuse the connection.
		b.w.Header().Set("Connection", "close")
	}
	return n, err
}

// writeBody writes p to the client in stallPiece pieces, each under a fresh
// WriteStallTimeout deadline: a stalled client fails the write, a slow one
// that keeps reading does not.
func (h *RequestHandler) writeBody(p []byte) error {
	for len(p) > 0 {
		n := min(len(p), stallPiece)
		h.extendWriteDeadline()
		if _, err := h.w.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// extendWriteDeadline gives the next write WriteStallTimeout to progress.
func (h *RequestHandler) extendWriteDeadline() {
	if d := h.app.settings.WriteStallTimeout; d > 0 {
		_ = http.NewResponseController(h.w).SetWriteDeadline(time.Now().Add(d))
	}
}
