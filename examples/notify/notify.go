package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/tornago/tornago"
)

// userCookie is the secure cookie holding the signed-in user's name.
const userCookie = "user"

// cookieGetter is the part of a handler currentUser needs; both
// RequestHandler and WebSocketHandler have it.
type cookieGetter interface {
	GetSecureCookie(name string) (string, error)
	Logger() *slog.Logger
}

// currentUser is every handler's GetCurrentUser: the name in the "user"
// cookie, or nil (nobody) when the cookie is missing, forged, signed with
// a retired key or older than 31 days.
func currentUser(h cookieGetter) (any, error) {
	name, err := h.GetSecureCookie(userCookie)
	if err != nil {
		if !errors.Is(err, http.ErrNoCookie) {
			h.Logger().Warn("notify: invalid user cookie", "error", err)
		}
		return nil, nil // an untyped nil: "" would count as a user
	}
	return name, nil
}

// push is what a page's socket receives: the unread count, with the text
// of a new notification when there is one.
type push struct {
	Text   string `json:"text,omitempty"`
	Unread int    `json:"unread"`
}

// registry maps each user to their open tabs and unread count. The count
// outlives the tabs, so it survives reloads and reconnects (it lives in
// memory: a restart forgets it).
type registry struct {
	logger *slog.Logger

	mu    sync.Mutex
	users map[string]*inbox
}

// inbox is one user's state in the registry.
type inbox struct {
	unread int
	tabs   map[*notificationSocket]struct{}
}

func newRegistry(logger *slog.Logger) *registry {
	return &registry{logger: logger, users: map[string]*inbox{}}
}

// inboxLocked returns user's inbox, creating it.
func (r *registry) inboxLocked(user string) *inbox {
	in := r.users[user]
	if in == nil {
		in = &inbox{tabs: map[*notificationSocket]struct{}{}}
		r.users[user] = in
	}
	return in
}

// dropIfEmptyLocked forgets a user with no tabs and nothing unread.
func (r *registry) dropIfEmptyLocked(user string, in *inbox) {
	if in.unread == 0 && len(in.tabs) == 0 {
		delete(r.users, user)
	}
}

// join adds a tab of user and sends it the unread count. Under the same
// lock as notify, so the tab sees every later push and counts never go
// backwards.
func (r *registry) join(user string, s *notificationSocket) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := r.inboxLocked(user)
	if err := s.WriteJSON(push{Unread: in.unread}); err != nil {
		r.dropIfEmptyLocked(user, in)
		return err // Open fails, so OnClose will not run: the tab was never added
	}
	in.tabs[s] = struct{}{}
	return nil
}

// leave removes a tab.
func (r *registry) leave(user string, s *notificationSocket) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in := r.users[user]; in != nil {
		delete(in.tabs, s)
		r.dropIfEmptyLocked(user, in)
	}
}

// notify counts a new notification for user and pushes it to all of the
// user's tabs, the frame encoded once. It returns how many tabs took it and
// the new unread count.
func (r *registry) notify(user, text string) (tabs, unread int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := r.inboxLocked(user)
	in.unread++
	return r.sendLocked(in, push{Text: text, Unread: in.unread}), in.unread
}

// markRead resets user's unread count and tells every tab.
func (r *registry) markRead(user string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := r.users[user]
	if in == nil {
		return
	}
	in.unread = 0
	r.sendLocked(in, push{})
	r.dropIfEmptyLocked(user, in)
}

// sendLocked queues p on every tab of in. Queuing never waits for a peer;
// a tab too slow to keep up is closed by tornago.
func (r *registry) sendLocked(in *inbox, p push) int {
	data, _ := json.Marshal(p) // a struct of a string and an int
	tabs := make([]*notificationSocket, 0, len(in.tabs))
	for s := range in.tabs {
		tabs = append(tabs, s)
	}
	n, err := tornago.Broadcast(tabs, data, false)
	if err != nil {
		r.logger.Error("notify: push failed", "error", err)
	}
	return n
}

// loginHandler shows and handles the sign-in form.
type loginHandler struct{ tornago.RequestHandler }

// loginPage is login.html's data.
type loginPage struct {
	Next  string
	Error string
}

// loginForm is the sign-in form's fields.
type loginForm struct {
	Name string `form:"name" validate:"required,max=64"`
	Next string `form:"next"`
}

// GetCurrentUser lets the XSRF cookie of a signed-in user last 30 days, as
// Tornado's does.
func (h *loginHandler) GetCurrentUser() (any, error) { return currentUser(h) }

// Get shows the form.
func (h *loginHandler) Get(args ...string) error {
	next, err := h.GetArgument("next", tornago.Default("/"))
	if err != nil {
		return err
	}
	return h.Render("login.html", loginPage{Next: next})
}

// Post signs the user in: the name goes into a signed cookie, hidden from
// scripts and not sent with cross-site subrequests.
func (h *loginHandler) Post(args ...string) error {
	var form loginForm
	if err := h.Bind(&form); err != nil {
		var ve *tornago.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		h.SetStatus(http.StatusBadRequest)
		return h.Render("login.html", loginPage{Next: form.Next, Error: ve.Error()})
	}
	if err := h.SetSecureCookie(userCookie, form.Name,
		tornago.CookieHTTPOnly(), tornago.CookieSameSite(http.SameSiteLaxMode)); err != nil {
		return err
	}
	h.Logger().Info("notify: signed in", "user", form.Name)
	return h.Redirect(localPath(form.Next))
}

// localPath returns next if it is a path on this site, else "/", so that
// the login form cannot be used to send users elsewhere.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, `/\`) {
		return "/"
	}
	return next
}

// logoutHandler signs the user out (POST, so XSRF-protected).
type logoutHandler struct{ tornago.RequestHandler }

func (h *logoutHandler) Post(args ...string) error {
	if err := h.ClearCookie(userCookie); err != nil {
		return err
	}
	return h.Redirect("/login")
}

// mainHandler is the signed-in user's page; the route is Authenticated.
// The unread count reaches the page over its socket.
type mainHandler struct{ tornago.RequestHandler }

func (h *mainHandler) GetCurrentUser() (any, error) { return currentUser(h) }

// Get renders the page; its script opens /notifications.
func (h *mainHandler) Get(args ...string) error {
	u, err := h.CurrentUser()
	if err != nil {
		return err
	}
	return h.Render("index.html", struct{ User, ReconnectJSVersion string }{u.(string), tornago.ReconnectJSVersion})
}

// readHandler marks the user's notifications read; the route is
// Authenticated and the XSRF check applies, so only the user's own page
// can do it.
type readHandler struct {
	tornago.RequestHandler
	reg *registry
}

func (h *readHandler) GetCurrentUser() (any, error) { return currentUser(h) }

// Post answers 204: a page posting the form without its script stays put.
func (h *readHandler) Post(args ...string) error {
	u, err := h.CurrentUser()
	if err != nil {
		return err
	}
	h.reg.markRead(u.(string))
	h.SetStatus(http.StatusNoContent)
	return nil
}

// notificationSocket is one open tab of a signed-in user.
type notificationSocket struct {
	tornago.WebSocketHandler
	reg  *registry
	user string
}

func (h *notificationSocket) GetCurrentUser() (any, error) { return currentUser(h) }

// Open runs before the 101: without a valid cookie the handshake is
// answered 401, which the page's script (and any client) can tell from a
// network failure. Otherwise the tab joins the registry and gets the
// unread count first.
func (h *notificationSocket) Open(args ...string) error {
	u, err := h.CurrentUser()
	if err != nil {
		return err
	}
	if u == nil {
		// RFC 9110 requires a challenge with every 401; sign-in by cookie
		// has no registered scheme, so the challenge names the form.
		return tornago.HTTPError{Code: http.StatusUnauthorized,
			Header: http.Header{"WWW-Authenticate": {`Cookie realm="notify", form="/login"`}}}
	}
	h.user = u.(string)
	return h.reg.join(h.user, h)
}

// OnClose leaves the registry; the unread count stays.
func (h *notificationSocket) OnClose() { h.reg.leave(h.user, h) }

// notifyHandler is the back end's API.
type notifyHandler struct {
	tornago.RequestHandler
	reg   *registry
	token string
}

// notification is POST /notify's body.
type notification struct {
	User string `json:"user" form:"user" validate:"required,max=64"`
	Text string `json:"text" form:"text" validate:"required,max=1000"`
}

// CheckXSRFCookie exempts the API from the XSRF check: its callers are
// programs holding the token, not browsers holding cookies.
func (h *notifyHandler) CheckXSRFCookie() error { return nil }

// Prepare demands "Authorization: Bearer TOKEN" before the body is looked
// at (RFC 6750: 401 with a WWW-Authenticate challenge otherwise).
func (h *notifyHandler) Prepare() error {
	scheme, token, _ := strings.Cut(h.Request().Header.Get("Authorization"), " ")
	challenge := `Bearer realm="notify"`
	switch {
	case !strings.EqualFold(scheme, "Bearer") || token == "":
	case tokenEqual(strings.TrimSpace(token), h.token):
		return nil
	default:
		challenge += `, error="invalid_token"`
	}
	return tornago.HTTPError{Code: http.StatusUnauthorized, Header: http.Header{"WWW-Authenticate": {challenge}}}
}

// tokenEqual compares in constant time, lengths included.
func tokenEqual(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// Post pushes the notification to the user's tabs and answers how many
// took it and the user's unread count.
func (h *notifyHandler) Post(args ...string) error {
	var n notification
	if err := h.Bind(&n); err != nil {
		return err // a *tornago.ValidationError: 400 with the field errors as JSON
	}
	tabs, unread := h.reg.notify(n.User, n.Text)
	return h.Write(map[string]int{"delivered": tabs, "unread": unread})
}

// WriteError answers in JSON, as an API should; validation errors keep
// tornago's JSON body with the field errors.
func (h *notifyHandler) WriteError(code int, err error) {
	var ve *tornago.ValidationError
	if errors.As(err, &ve) {
		h.RequestHandler.WriteError(code, err)
		return
	}
	_ = h.Write(map[string]any{"code": code, "message": http.StatusText(code)})
}
