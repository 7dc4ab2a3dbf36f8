package tornago

import (
	"log/slog"
	"mime/multipart"
	"net/http"
	"sync/atomic"
	"time"
)

// Handler is a request handler instance: a pointer to a struct that embeds
// RequestHandler (or WebSocketHandler), which provides the unexported method
// and so every helper (GetArgument, Write, SetCookie, ...). The set of
// implementations is closed on purpose: the Application relies on the
// embedded state.
//
// Besides the embedding, a Handler may implement any of these optional
// methods, which the Application finds by type assertion (hooks.go has an
// interface for each, GetMethod, Preparer, ..., to assert them at compile
// time; NewApplication refuses a method of one of these names with another
// signature):
//
//	Get(args ...string) error       // and Post, Put, Delete, Patch, Head, Options
//	Initialize()                    // after the handler is bound to the request
//	Prepare() error                 // before the verb method, for every verb
//	OnFinish()                      // after the response was sent
//	GetCurrentUser() (any, error)   // loads CurrentUser, once per request
//	SetDefaultHeaders()             // at the start, and again before an error page
//	WriteError(code int, err error) // custom error pages
//	CheckXSRFCookie() error         // custom XSRF check (return nil to disable)
//	ComputeEtag() string            // custom ETag ("" disables it)
//	GetLoginURL() string            // login URL for Authenticated
//
// Verb methods receive the route's positional groups; named groups are read
// with PathKwarg. A missing verb method answers 405 with an Allow header.
type Handler interface {
	requestHandler() *RequestHandler
}

// Factory makes a fresh Handler for each request, as Tornado instantiates the
// handler class per request; NewApplication and HandlerFor also call it
// once at start-up to check the handler's methods (see HandlerError), so
// it should do no more than build the struct. Capture per-route
// configuration (Tornado's initialize kwargs) in the closure:
//
//	func() tornago.Handler { return &UserHandler{db: db} }
type Factory func() Handler

// The optional methods a Handler may implement: short names for the
// interfaces of hooks.go, as the lifecycle code asserts them.
type (
	getHandler     = GetMethod
	postHandler    = PostMethod
	putHandler     = PutMethod
	deleteHandler  = DeleteMethod
	patchHandler   = PatchMethod
	headHandler    = HeadMethod
	optionsHandler = OptionsMethod

	initializer          = Initializer
	preparer             = Preparer
	finisher             = OnFinisher
	currentUserGetter    = CurrentUserGetter
	defaultHeadersSetter = DefaultHeadersSetter
	errorWriter          = ErrorWriter
	xsrfChecker          = XSRFCookieChecker
	etagComputer         = EtagComputer
	loginURLGetter       = LoginURLGetter
)

// RequestHandler is the base of every handler; embed it by value in your
// handler struct and add verb methods:
//
//	type HelloHandler struct{ tornago.RequestHandler }
//
//	func (h *HelloHandler) Get(args ...string) error {
//		return h.Write("Hello, world")
//	}
//
// One instance serves one request, on one goroutine; its methods are not safe
// for concurrent use. Output is buffered until Flush or the end of the verb
// method (which finishes the response unless it was finished already), so
// headers and status can change until then and an error can still replace
// the body with an error page.
type RequestHandler struct {
	self Handler
	app  *Application
	w    http.ResponseWriter
	// req holds the *http.Request being served (read it with request):
	// atomic because a WebSocket handler swaps it for compact once its
	// handshake is done, while goroutines that Open started may be reading
	// it. An atomic.Value, not an atomic.Pointer, so that copying a handler
	// value (a table of handlers in a test) stays free of vet's copylocks.
	req     atomic.Value
	compact *compactRequest
	args    []string
	kwargs  map[string]string
	start   time.Time

	status int
	header http.Header
	buf    []byte
	gzip   *gzipWriter

	query     map[string][]string
	body      map[string][]string
	form      *multipart.Form // a parsed multipart body, its files removed by endRequest
	argsError error

	user any
	xsrf *xsrfState // made by loadXSRF on first use

	requireUserFor []string // Authenticated's methods; nil means all

	// The flags, together so that they share one word (every idle
	// WebSocket connection holds its handler).
	headersWritten bool
	finished       bool
	logged         bool
	argsParsed     bool
	userLoaded     bool
	requireUser    bool // Authenticated
}

func (h *RequestHandler) requestHandler() *RequestHandler { return h }

// handler returns the outer Handler, whose methods override RequestHandler's
// (WriteError, CheckXSRFCookie, ...); h itself before init.
func (h *RequestHandler) handler() Handler {
	if h.self == nil {
		return h
	}
	return h.self
}

// init binds h (the RequestHandler inside self) to one request and runs
// the optional Initialize hook, on the request's goroutine. app must be
// non-nil: handlers mounted in another router are served through
// Application.HandlerFor, whose Application holds the settings.
func (h *RequestHandler) init(self Handler, app *Application, w http.ResponseWriter, r *http.Request, args []string, kwargs map[string]string) {
	h.self = self
	h.app = app
	h.w = w
	h.req.Store(r)
	h.args = args
	h.kwargs = kwargs
	h.start = time.Now()
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, app.settings.MaxBodySize)
	}
	h.clear()
	if i, ok := self.(initializer); ok {
		i.Initialize()
	}
}

// clear resets status, headers and body to their initial state, as
// Tornado's clear(); Set-Cookie lines survive, as Tornado keeps its cookie
// jar apart from the headers.
func (h *RequestHandler) clear() {
	cookies := h.header.Values("Set-Cookie")
	h.header = http.Header{"Content-Type": {"text/html; charset=UTF-8"}}
	if len(cookies) > 0 {
		h.header["Set-Cookie"] = cookies
	}
	h.buf = h.buf[:0]
	h.status = http.StatusOK
	if d, ok := h.self.(defaultHeadersSetter); ok {
		d.SetDefaultHeaders()
	}
}

// Request returns the request being served. Its Body is limited to
// Settings.MaxBodySize; a form body has been parsed (and consumed) before
// Prepare, a multipart one into its MultipartForm. In a WebSocket
// handler, after the handshake, it is a copy rebuilt from the packed
// request (see WebSocketHandler): the same fields, context and path
// values, but not the pointer Open saw.
func (h *RequestHandler) Request() *http.Request { return h.request() }

// request is the request being served: the one net/http handed over or,
// once a WebSocket handler's handshake is done, its compact copy, rebuilt
// on the first call (request_compact.go). nil before init.
func (h *RequestHandler) request() *http.Request {
	if r, _ := h.req.Load().(*http.Request); r != nil {
		return r
	}
	if h.compact == nil {
		return nil
	}
	return h.compact.request()
}

// Application returns the application serving this handler.
func (h *RequestHandler) Application() *Application { return h.app }

// Settings returns the application's settings, defaults filled in.
func (h *RequestHandler) Settings() Settings { return h.app.settings }

// Logger returns the application's logger, for handler code that wants its
// lines next to the access log.
func (h *RequestHandler) Logger() *slog.Logger { return h.app.logger }

// PathArgs returns the values of the route pattern's positional groups,
// percent-decoded; they are also the arguments of the verb method. Nil when
// the pattern's groups are named.
func (h *RequestHandler) PathArgs() []string { return h.args }

// PathKwargs returns the values of the route pattern's named groups
// ((?P<name>...)), percent-decoded. Nil when the groups are positional. The
// map belongs to the handler; do not modify it.
func (h *RequestHandler) PathKwargs() map[string]string { return h.kwargs }

// PathKwarg returns the value of the route pattern's named group name, ""
// when there is no such group or it did not participate in the match.
func (h *RequestHandler) PathKwarg(name string) string { return h.kwargs[name] }

var supportedMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodDelete: true,
	http.MethodPatch: true, http.MethodPut: true, http.MethodOptions: true,
}

// execute runs the HTTP (non-WebSocket) lifecycle: method check, body
// parsing, XSRF, Prepare, the verb method, and the automatic Finish.
func (h *RequestHandler) execute() {
	if !supportedMethods[h.request().Method] {
		h.sendError(HTTPError{Code: http.StatusMethodNotAllowed})
		return
	}
	if err := h.runPrepare(); err != nil {
		h.sendError(err)
		return
	}
	if h.finished {
		return
	}
	verb := verbMethod(h.self, h.request().Method)
	if verb == nil {
		h.sendError(HTTPError{Code: http.StatusMethodNotAllowed,
			Header: http.Header{"Allow": {allowedMethods(h.self)}}})
		return
	}
	if err := verb(h.args...); err != nil {
		h.sendError(err)
		return
	}
	if !h.finished {
		_ = h.Finish() // only a vanished client makes it fail
	}
}

// endRequest releases what the request holds beyond its response (a
// multipart form's temporary files); serve defers it, so it runs on every
// path. net/http removes a multipart form's files only when the form hangs on its own
// *http.Request, which a middleware calling r.WithContext (chi,
// gorilla/mux, request-ID middleware) has replaced by a copy, so without
// this every upload behind one would leave its files in the temporary
// directory. For a WebSocket it runs when the handshake ends.
func (h *RequestHandler) endRequest() {
	if h.form == nil {
		return
	}
	if err := h.form.RemoveAll(); err != nil {
		h.app.logger.Error("tornago: removing a multipart form's temporary files", "error", err)
	}
}

// runPrepare parses the arguments (query string and form body), checks XSRF (non-GET/HEAD/OPTIONS, when
// Settings.XSRFCookies), calls Prepare, then enforces Authenticated (which
// may redirect). On a nil error, check h.finished: Prepare or the login
// redirect may have answered already. The HTTP lifecycle (execute) and the
// WebSocket one (serveWebSocket, after its own setup) both call it.
func (h *RequestHandler) runPrepare() error {
	if err := h.parseArguments(); err != nil {
		return err
	}
	if h.app.settings.XSRFCookies && !safeMethod(h.method()) {
		if err := h.handler().(xsrfChecker).CheckXSRFCookie(); err != nil {
			return err
		}
	}
	if p, ok := h.self.(preparer); ok {
		if err := p.Prepare(); err != nil {
			return err
		}
	}
	if h.finished || !h.userRequired() {
		return nil
	}
	return h.authenticate()
}

// method is the request's method as Tornado's per-method rules (the XSRF
// check, Authenticated) see it: an RFC 8441 extended CONNECT, which opens
// a WebSocket over HTTP/2, is the GET that opens one over HTTP/1.1, so a
// WebSocket handler is guarded the same whichever protocol the browser
// chose (a socket that Authenticated(f, "GET") protects stays protected).
func (h *RequestHandler) method() string {
	r := h.request()
	if r.Method == http.MethodConnect && r.Header.Get(":protocol") != "" {
		return http.MethodGet
	}
	return r.Method
}

// safeMethod reports whether method is exempt from the XSRF check.
func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// verbMethod returns h's method for the HTTP method, nil if h has none. HEAD
// falls back to Get (the body is discarded).
func verbMethod(h Handler, method string) func(args ...string) error {
	switch method {
	case http.MethodGet:
		if v, ok := h.(getHandler); ok {
			return v.Get
		}
	case http.MethodHead:
		if v, ok := h.(headHandler); ok {
			return v.Head
		}
		if v, ok := h.(getHandler); ok {
			return v.Get
		}
	case http.MethodPost:
		if v, ok := h.(postHandler); ok {
			return v.Post
		}
	case http.MethodPut:
		if v, ok := h.(putHandler); ok {
			return v.Put
		}
	case http.MethodDelete:
		if v, ok := h.(deleteHandler); ok {
			return v.Delete
		}
	case http.MethodPatch:
		if v, ok := h.(patchHandler); ok {
			return v.Patch
		}
	case http.MethodOptions:
		if v, ok := h.(optionsHandler); ok {
			return v.Options
		}
	}
	return nil
}

// allowedMethods is the Allow header value for a 405 from h.
func allowedMethods(h Handler) string {
	s := ""
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		if verbMethod(h, m) != nil {
			if s != "" {
				s += ", "
			}
			s += m
		}
	}
	return s
}
