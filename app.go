package tornago

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/go-playground/validator/v10"

	"github.com/tornago/tornago/cookies"
	"github.com/tornago/tornago/internal/stack"
	"github.com/tornago/tornago/routing"
	"github.com/tornago/tornago/websocket"
)

// Route maps requests to a handler, as a Tornado URLSpec.
type Route struct {
	// Pattern is a regular expression (Go RE2 syntax) matched against the
	// whole, still percent-encoded path; "^" and "$" are implied. Its
	// groups, all positional or all named, become the verb method's
	// arguments or the handler's PathKwargs, percent-decoded.
	Pattern string
	// Host, if set, is a regular expression the request's host name must
	// match entirely.
	Host string
	// Name, if set, makes the route reachable by ReverseURL.
	Name string
	// Handler makes one handler per request.
	Handler Factory
}

// Application is an http.Handler that routes each request to a fresh
// handler from its Route's Factory and runs the handler's lifecycle:
// Initialize, XSRF check, Prepare, the verb method, Finish, OnFinish. It is
// Tornado's tornado.web.Application; mount it on any http.Server or mux, or
// use ListenAndServe. It is safe for concurrent use and immutable after
// NewApplication (Shutdown aside).
type Application struct {
	settings  Settings
	logger    *slog.Logger
	router    *routing.Router
	codec     cookies.Codec
	validator *validator.Validate
	templates *templateCache
	hashes    staticHashes
	gzipPool  *sync.Pool
	proxies   []netip.Prefix // Settings.TrustedProxies, parsed (proxy.go)

	mu      sync.Mutex
	servers []*http.Server
	closed  bool

	sockets  websocket.Group // open WebSocket sessions
	newConns newConns        // connections without a request yet (spareconns.go)
}

// NewApplication compiles routes (first match wins) and returns the
// Application. With Settings.StaticPath set it first adds, as Tornado does,
// StaticFileHandler routes for StaticURLPrefix+"(.*)", "/favicon.ico" and
// "/robots.txt". It fails on a route without a Handler, a pattern that does
// not compile, a duplicate route Name, inconsistent cookie secrets, or a
// template under Settings.TemplatePath that does not parse or escape (the
// error names each broken file and line), or a handler that could not
// serve a request (a *HandlerError: each route's factory, and
// Settings.DefaultHandler, is called once to inspect the handler it
// makes).
func NewApplication(routes []Route, settings Settings) (*Application, error) {
	s := settings.WithDefaults()
	codec, err := s.cookieCodec()
	if err != nil {
		return nil, err
	}
	if code, _ := s.shutdownClose(); !code.Valid() {
		return nil, fmt.Errorf("%w: WebSocketShutdownCode %d may not be sent in a close frame (use 1001, 1012, or 4000–4999)", errSettings, int(code))
	}
	if s.HTTP2 && !websocket.ExtendedConnectEnabled() {
		return nil, fmt.Errorf("%w: HTTP2 serves WebSockets over HTTP/2 only in a process started with GODEBUG=http2xconnect=1 (net/http reads it at start-up); set it in the environment, or leave HTTP2 off", errSettings)
	}
	var rules []routing.Rule
	if s.StaticPath != "" {
		static := StaticFiles(s.StaticPath)
		for _, p := range []string{regexp.QuoteMeta(s.StaticURLPrefix) + "(.*)", `/(favicon\.ico)`, `/(robots\.txt)`} {
			rules = append(rules, routing.Rule{Pattern: p, Target: static})
		}
	}
	for i, r := range routes {
		if r.Handler == nil {
			return nil, fmt.Errorf("%w: route %d (%s) has no Handler", errSettings, i, r.Pattern)
		}
		if err := checkFactory(r.Pattern, r.Handler); err != nil {
			return nil, err
		}
		rules = append(rules, routing.Rule{Pattern: r.Pattern, Host: r.Host, Name: r.Name, Target: r.Handler})
	}
	if s.DefaultHandler != nil {
		if err := checkFactory("Settings.DefaultHandler", s.DefaultHandler); err != nil {
			return nil, err
		}
	}
	proxies, err := parseTrustedProxies(s.TrustedProxies)
	if err != nil {
		return nil, err
	}
	a := &Application{
		settings:  s,
		logger:    s.Logger,
		codec:     codec,
		validator: newValidator(),
		hashes:    staticHashes{m: map[string]staticHash{}},
		gzipPool:  newGzipPool(),
		proxies:   proxies,
	}
	var ropts []routing.Option
	if len(proxies) > 0 { // Host rules see the Host a trusted proxy forwards
		ropts = append(ropts, routing.WithHostFunc(func(r *http.Request) string { return a.clientView(r).host }))
	}
	a.router, err = routing.New(rules, ropts...)
	if err != nil {
		return nil, fmt.Errorf("tornago: routes: %w", err)
	}
	if s.TemplatePath != "" {
		if a.templates, err = newTemplateCache(s.TemplatePath, s.Debug); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Settings returns the application's settings with defaults filled in.
func (a *Application) Settings() Settings { return a.settings }

// Logger returns the logger of the access log (Settings.Logger or
// slog.Default()).
func (a *Application) Logger() *slog.Logger { return a.logger }

// RegisterValidation adds a rule for the `validate` tag name that Bind
// checks, such as validate:"primary" or validate:"prefix=ab" (param is
// what follows "="). Register rules before serving: registering while a
// request validates is a data race. It fails on an empty tag or a nil rule.
func (a *Application) RegisterValidation(tag string, rule ValidationRule) error {
	if rule == nil {
		return fmt.Errorf("tornago: RegisterValidation(%q): nil rule", tag)
	}
	return a.validator.RegisterValidation(tag, func(fl validator.FieldLevel) bool {
		return rule(fl.Field(), fl.Param())
	})
}

// ValidationRule reports whether a field's value passes a custom rule
// registered with RegisterValidation; param is the rule's parameter in the
// tag ("" for none). Bind's validation engine is
// github.com/go-playground/validator/v10, whose built-in rules (required,
// min, email, dive, ...) need no registering.
type ValidationRule func(value reflect.Value, param string) bool

// ReverseURL builds the path of the route called name with args
// substituted for its groups, escaped as Tornado's reverse_url.
func (a *Application) ReverseURL(name string, args ...any) (string, error) {
	return a.router.ReverseURL(name, args...)
}

// ReverseURL is Application.ReverseURL (Tornado's handler.reverse_url).
func (h *RequestHandler) ReverseURL(name string, args ...any) (string, error) {
	return h.app.ReverseURL(name, args...)
}

// secureCodec returns the secure-cookie codec, or ErrMissingSetting.
func (a *Application) secureCodec() (cookies.Codec, error) {
	if a.codec == nil {
		return nil, fmt.Errorf("%w: CookieSecret (for secure cookies)", ErrMissingSetting)
	}
	return a.codec, nil
}

// ServeHTTP routes the request. No match goes to Settings.DefaultHandler,
// else a 404 error page; a path argument that is not UTF-8 gets 400.
func (a *Application) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m, ok, err := a.router.Match(r)
	switch {
	case err != nil:
		a.serve(w, r, errorFactory(err), nil, nil)
	case !ok && a.settings.DefaultHandler != nil:
		a.serve(w, r, a.settings.DefaultHandler, nil, nil)
	case !ok:
		a.serve(w, r, errorFactory(HTTPError{Code: http.StatusNotFound}), nil, nil)
	default:
		a.serve(w, r, m.Rule.Target.(Factory), m.Args, m.Kwargs)
	}
}

// HandlerFor returns an http.Handler serving every request with a handler
// from f and this application's settings, for mounting one handler
// (WebSocket handlers included) in another router. With http.ServeMux the
// pattern's wildcards ("/rooms/{room}") become the handler's PathKwargs;
// for other routers, PathKwargs says where their path parameters are:
//
//	r.Handle("/rooms/{room}", app.HandlerFor(newRoom, tornago.PathKwargs(mux.Vars)))       // gorilla/mux
//	r.Handle("/rooms/{room}", app.HandlerFor(newRoom, tornago.PathKwargs(chiParams)))       // chi, see PathKwargs
//
// The verb method (or Open) then gets no positional arguments unless
// PathArgs supplies them. HandlerFor calls f once and panics with a
// *HandlerError if its handler could not serve (see CheckHandler), as
// http.ServeMux.Handle panics on a bad pattern: the mistake shows when the
// program starts, not at the first request.
func (a *Application) HandlerFor(f Factory, opts ...MountOption) http.Handler {
	if err := CheckHandler(f); err != nil {
		panic(err)
	}
	var m mountOptions
	for _, o := range opts {
		o(&m)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var args []string
		if m.args != nil {
			args = m.args(r)
		}
		kwargs := muxKwargs(r)
		if m.kwargs != nil {
			kwargs = m.kwargs(r)
		}
		a.serve(w, r, f, args, kwargs)
	})
}

// MountOption configures HandlerFor.
type MountOption func(*mountOptions)

type mountOptions struct {
	args   func(*http.Request) []string
	kwargs func(*http.Request) map[string]string
}

// PathKwargs fills the handler's PathKwargs (and PathKwarg) from the host
// router's path parameters, for example gorilla/mux's mux.Vars, or for chi:
//
//	func chiParams(r *http.Request) map[string]string {
//		ctx := chi.RouteContext(r.Context())
//		m := map[string]string{}
//		for i, k := range ctx.URLParams.Keys {
//			m[k] = ctx.URLParams.Values[i]
//		}
//		return m
//	}
func PathKwargs(f func(*http.Request) map[string]string) MountOption {
	return func(m *mountOptions) { m.kwargs = f }
}

// PathArgs takes the handler's positional arguments (the verb method's or
// Open's args) from the host router.
func PathArgs(f func(*http.Request) []string) MountOption {
	return func(m *mountOptions) { m.args = f }
}

// muxKwargs reads http.ServeMux wildcards of the matched pattern.
func muxKwargs(r *http.Request) map[string]string {
	var kw map[string]string
	p := r.Pattern
	for {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			return kw
		}
		j := strings.IndexByte(p[i:], '}')
		if j < 0 {
			return kw
		}
		name := strings.TrimSuffix(p[i+1:i+j], "...")
		p = p[i+j+1:]
		if name == "" || name == "$" {
			continue
		}
		if kw == nil {
			kw = map[string]string{}
		}
		kw[name] = r.PathValue(name)
	}
}

// webSocketServer is implemented by WebSocketHandler (websocket_handler.go):
// serve hands such handlers over to it after init, instead of running the
// HTTP verb lifecycle.
type webSocketServer interface {
	Handler
	serveWebSocket()
}

// serve runs one request through a handler from f, recovering panics.
func (a *Application) serve(w http.ResponseWriter, r *http.Request, f Factory, args []string, kwargs map[string]string) {
	h := newHandler(f)
	rh := h.requestHandler()
	defer rh.endRequest() // runs last, after a panic too
	defer func() {
		if p := recover(); p != nil {
			rh.handlePanic(p)
		}
		rh.logAccess()
	}()
	if ws, ok := h.(webSocketServer); ok {
		// The handshake's calls (Open, the origin check, the 101's
		// write) outgrow net/http's 4 KiB goroutine stack every time:
		// grow it here, where the copy has few frames to fix up.
		stack.Grow()
		clearWriteDeadline(w)
		rh.init(h, a, w, r, args, kwargs)
		ws.serveWebSocket()
		return
	}
	body := a.boundStalls(w, r)
	defer a.finishStalls(w, body)
	rh.init(h, a, w, r, args, kwargs)
	rh.execute()
}

// newHandler calls f; a panic or a nil handler becomes an errorHandler, so
// the client still gets a 500 and the log the reason.
func newHandler(f Factory) (h Handler) {
	defer func() {
		if p := recover(); p != nil {
			h = &errorHandler{err: &PanicError{Value: p, Stack: debug.Stack()}}
		}
	}()
	if h = f(); isNil(h) {
		h = &errorHandler{err: errors.New("tornago: handler factory returned nil")}
	}
	return h
}

// errorHandler answers every request with err (Tornado's ErrorHandler).
type errorHandler struct {
	RequestHandler
	err error
}

func errorFactory(err error) Factory {
	return func() Handler { return &errorHandler{err: err} }
}

// Prepare fails with the handler's error, so the error page is sent.
func (h *errorHandler) Prepare() error { return h.err }

// CheckXSRFCookie is off: a 404 must not turn into a 403.
func (h *errorHandler) CheckXSRFCookie() error { return nil }

// Server limits used by ListenAndServe and Serve.
const (
	serverReadHeaderTimeout = 10 * time.Second
	serverIdleTimeout       = 2 * time.Minute
	serverMaxHeaderBytes    = 64 << 10 // Tornado's max_header_size
)

// ListenAndServe listens on the TCP address addr (":8888"; "" means ":http")
// and serves the application until Shutdown, then returns nil. The server
// reads request headers within 10 s, accepts at most 64 KiB of them and
// closes connections idle for 2 minutes; ListenAndServeTLS and ServeTLS
// (tls.go) do the same over TLS. It sets no ReadTimeout or WriteTimeout:
// slow request bodies and responses are bounded per request by
// Settings.BodyStallTimeout and WriteStallTimeout, on any server, without
// touching WebSockets. For other limits, run your own http.Server with the
// Application as its Handler (and still call Shutdown for the WebSocket
// connections).
func (a *Application) ListenAndServe(addr string) error {
	if addr == "" {
		addr = ":http"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("tornago: %w", err)
	}
	return a.Serve(l)
}

// Serve is ListenAndServe on an existing listener, which it closes.
func (a *Application) Serve(l net.Listener) error {
	srv := &http.Server{
		Handler:           a,
		ReadHeaderTimeout: serverReadHeaderTimeout,
		IdleTimeout:       serverIdleTimeout,
		MaxHeaderBytes:    serverMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: a.settings.HTTP2MaxConcurrentStreams},
		ConnState:         a.newConns.track,
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		_ = l.Close()
		return http.ErrServerClosed
	}
	a.servers = append(a.servers, srv)
	a.mu.Unlock()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("tornago: %w", err)
	}
	return nil
}

// Shutdown stops the servers started by ListenAndServe and Serve
// gracefully (http.Server.Shutdown: no new connections, in-flight requests
// finish) and, at the same time, closes what the HTTP server does not
// track: every WebSocket gets 1001 (or Settings.WebSocketShutdownCode)
// after what is already queued for it,
// and Shutdown waits for each one's OnClose (a handler still in Open
// finishes it and is closed right after its 101). A connection that has
// sent nothing for 5 s (a browser's spare) is closed, over HTTP/2 too
// (spareconns.go). ctx bounds the wait;
// its error is returned if it expires, and the WebSockets left are dropped.
// Call it also when serving the Application from your own server.
func (a *Application) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	a.closed = true
	servers := a.servers
	a.servers = nil
	a.mu.Unlock()

	// The WebSockets are closed while the HTTP servers shut down, not
	// after: http.Server.Shutdown can wait seconds for connections that
	// never sent a request (browsers open spare ones), and a WebSocket
	// peer should hear 1001 at once. New upgrades are refused from here on.
	errs := make([]error, len(servers)+1)
	var wg sync.WaitGroup
	for i, srv := range servers {
		wg.Go(func() { errs[i] = srv.Shutdown(ctx) })
	}
	code, reason := a.settings.shutdownClose()
	wg.Go(func() { errs[len(servers)] = a.sockets.ShutdownWith(ctx, code, reason) })
	serversDone, spareDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(spareDone)
		a.newConns.closeSpare(serversDone)
	}()
	wg.Wait()
	close(serversDone)
	<-spareDone
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tornago: shutdown: %w", err)
	}
	return nil
}
