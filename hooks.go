package tornago

import "github.com/tornago/tornago/websocket"

// The methods the Application looks for on a handler, one interface each,
// so that a handler can state at compile time which it means to implement:
//
//	var _ tornago.GetMethod = (*MainHandler)(nil)
//	var _ tornago.WebSocketHooks = (*ChatSocket)(nil)
//
// A method with one of these names but another signature would be ignored
// (a verb method answers 405) or fail on every request, so NewApplication
// and HandlerFor refuse it with a *HandlerError (handlercheck.go).

// GetMethod is a handler serving GET (and HEAD, when it has no Head): args
// are the route's positional groups, percent-decoded; an error ends the
// request with its status (see HTTPError). Tornado's get(self, *args).
type GetMethod interface{ Get(args ...string) error }

// HeadMethod serves HEAD; without it, HEAD runs Get and drops the body.
type HeadMethod interface{ Head(args ...string) error }

// PostMethod serves POST; see GetMethod for args and the error.
type PostMethod interface{ Post(args ...string) error }

// PutMethod serves PUT; see GetMethod for args and the error.
type PutMethod interface{ Put(args ...string) error }

// DeleteMethod serves DELETE; see GetMethod for args and the error.
type DeleteMethod interface{ Delete(args ...string) error }

// PatchMethod serves PATCH; see GetMethod for args and the error.
type PatchMethod interface{ Patch(args ...string) error }

// OptionsMethod serves OPTIONS; see GetMethod for args and the error.
type OptionsMethod interface{ Options(args ...string) error }

// Initializer is called once the handler is bound to its request, before
// anything else runs (Tornado's initialize, minus the kwargs: capture those
// in the Factory's closure).
type Initializer interface{ Initialize() }

// Preparer is called before the verb method (or a WebSocket's handshake),
// for every HTTP method; an error ends the request with its status, and
// Prepare may finish the response itself.
type Preparer interface{ Prepare() error }

// OnFinisher is called after the response was sent, for logging or
// cleanup; the handler can no longer write.
type OnFinisher interface{ OnFinish() }

// DefaultHeadersSetter sets headers every response of the handler starts
// with; it is called at the start and again before an error page.
type DefaultHeadersSetter interface{ SetDefaultHeaders() }

// ErrorWriter renders the error page for status code (err is what the
// handler returned, or nil); RequestHandler's default is Tornado's page.
type ErrorWriter interface{ WriteError(code int, err error) }

// XSRFCookieChecker checks the XSRF token of an unsafe request when
// Settings.XSRFCookies is on; return nil to accept the request.
type XSRFCookieChecker interface{ CheckXSRFCookie() error }

// EtagComputer returns the ETag of the finished response; "" sends none
// (and disables the 304 answer).
type EtagComputer interface{ ComputeEtag() string }

// CurrentUserGetter loads the request's user (Tornado's get_current_user):
// a handler's own overrides Settings.GetCurrentUser, the hook all handlers
// of an Application share. CurrentUser calls it once per request; a user
// for which IsNobody is true means nobody is logged in.
type CurrentUserGetter interface{ GetCurrentUser() (any, error) }

// LoginURLGetter returns the URL Authenticated redirects anonymous users
// to; the default is Settings.LoginURL.
type LoginURLGetter interface{ GetLoginURL() string }

// WebSocketHooks are the methods the Application calls on a WebSocket
// handler. WebSocketHandler provides every one, so a struct embedding it
// implements them all unless it overrides one with another signature; see
// WebSocketHandler's own methods for what each is for.
type WebSocketHooks interface {
	Handler
	Open(args ...string) error
	OnMessage(m Message) error
	OnClose()
	CheckOrigin(origin string) bool
	SelectSubprotocol(offered []string) string
	OnPing(payload []byte)
	OnPong(payload []byte)
	CompressionOptions() *websocket.CompressionOptions
}
