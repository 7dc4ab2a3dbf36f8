package tornago

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// PanicError is the error passed to WriteError when a handler panicked: the
// Application recovers the panic, logs it with the stack, and answers 500.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the panicking goroutine's stack
}

// Error describes the panic value (not the stack).
func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic value if it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// sendError logs err as Tornado does and answers with statusOf(err) and the
// handler's WriteError (default page); cookies set so far are kept. After
// Flush it cannot: it then panics with http.ErrAbortHandler to cut the
// connection (net/http recovers that silently).
func (h *RequestHandler) sendError(err error) {
	code := statusOf(err)
	h.logError(code, err)
	if h.finished {
		return // Tornado: errors after the response was finished are only logged
	}
	if h.headersWritten {
		// Too late for an error page, and finishing would make the partial
		// body look complete: cut the connection instead.
		h.app.logger.Error("cannot send error response after headers written", "request", h.summary())
		h.finished = true
		h.logAccess()
		h.runOnFinish()
		panic(http.ErrAbortHandler)
	}
	h.clear()
	h.status = code
	if he, ok := asHTTPError(err); ok {
		for k, v := range he.Header {
			h.header[http.CanonicalHeaderKey(k)] = append([]string(nil), v...)
		}
	}
	if code != http.StatusNotModified {
		h.callWriteError(code, err)
	}
	if !h.finished {
		_ = h.Finish()
	}
}

// callWriteError runs the handler's WriteError; a panic in it is logged and
// the default error page sent instead.
func (h *RequestHandler) callWriteError(code int, err error) {
	defer func() {
		if p := recover(); p != nil {
			h.app.logger.Error("uncaught panic in WriteError", "request", h.summary(),
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if !h.finished && !h.headersWritten {
				h.buf = append(h.buf[:0], errorPage(code)...)
			}
		}
	}()
	h.handler().(errorWriter).WriteError(code, err)
}

// WriteError writes the error response for status code; err is what the
// handler returned (an HTTPError, a *ValidationError, a *PanicError, ...),
// nil for errors the framework raised without a cause. Override it in your
// handler for custom error pages; it may call Write, SetHeader, Render.
//
// The default writes Tornado's page, `<html><title>404: Not Found</title>
// <body>404: Not Found</body></html>`, which shows only the reason phrase;
// a *ValidationError is answered with its JSON body instead. With
// Settings.Debug the page is plain text with the error (and a panic's
// stack), as Tornado's serve_traceback.
func (h *RequestHandler) WriteError(code int, err error) {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		_ = h.Write(ve.response(code))
	case h.app.settings.Debug && err != nil:
		h.header.Set("Content-Type", "text/plain; charset=UTF-8")
		body := fmt.Sprintf("%d: %s\n\n%v\n", code, reasonPhrase(code), err)
		var pe *PanicError
		if errors.As(err, &pe) {
			body += "\n" + string(pe.Stack)
		}
		_ = h.Write(body)
	default:
		_ = h.Write(errorPage(code))
	}
	_ = h.Finish()
}

// logError logs an error returned by handler code as Tornado's
// log_exception: client errors (HTTPError and the like) at Warn with their
// message, and not at all for an HTTPError without a Message; everything
// else at Error.
func (h *RequestHandler) logError(code int, err error) {
	if he, ok := asHTTPError(err); ok {
		if he.Message != "" {
			h.app.logger.Warn(fmt.Sprintf("%d %s: %s", code, h.summary(), he.Message))
		}
		return
	}
	var pe *PanicError
	var ce *connectionError
	switch {
	case errors.As(err, &ce):
		h.app.logger.Debug(fmt.Sprintf("%s: %v", h.summary(), err))
	case errors.As(err, &pe):
		h.app.logger.Error("uncaught panic "+h.summary(), "panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
	case code < 500:
		h.app.logger.Warn(fmt.Sprintf("%d %s: %v", code, h.summary(), err))
	default:
		h.app.logger.Error("uncaught error "+h.summary(), "error", err)
	}
}

// handlePanic is what serve's deferred recover does with p: log it with its
// stack, answer 500 if nothing was sent, else abort the connection
// (re-panicking http.ErrAbortHandler).
func (h *RequestHandler) handlePanic(p any) {
	if p == http.ErrAbortHandler { //nolint:errorlint // panic values are compared, not wrapped
		panic(p)
	}
	err := &PanicError{Value: p, Stack: debug.Stack()}
	if h.app == nil {
		slog.Default().Error("uncaught panic before the handler was bound", "panic", fmt.Sprint(p), "stack", string(err.Stack))
		panic(http.ErrAbortHandler)
	}
	h.sendError(err) // after Flush, this aborts the connection
}

// runOnFinish calls OnFinish; a panic there is logged, since the response
// is already complete.
func (h *RequestHandler) runOnFinish() {
	f, ok := h.handler().(finisher)
	if !ok {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			h.app.logger.Error("uncaught panic in OnFinish "+h.summary(),
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	f.OnFinish()
}
