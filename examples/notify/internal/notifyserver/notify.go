package notifyserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/hub"
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
// of a new notification when there is one. The count comes first on every
// connection, as an application message; notifications and "mark read"
// are publications to the user's inbox room, which keeps history, so a
// page that reconnects, to this process or another, gets those it missed
// (reconnect.js sends its position; hub.JoinRooms sends what came after).
type push struct {
	Text   string `json:"text,omitempty"`
	Unread int    `json:"unread"`
}

// inbox is the hub room of user's notifications.
func inbox(user string) string { return "inbox:" + user }

// InboxHistory is the history policy of the hub the service runs on
// (hub.WithHistory(InboxHistory)): each user's inbox room keeps the last
// InboxSize notifications for InboxTTL, what a page that was away that
// long is sent when it reconnects; a page away longer, or whose history
// was lost, reloads.
func InboxHistory(room string) hub.HistoryPolicy {
	if strings.HasPrefix(room, "inbox:") {
		return hub.HistoryPolicy{Size: InboxSize, TTL: InboxTTL}
	}
	return hub.HistoryPolicy{}
}

const (
	// InboxSize is how many notifications a user's inbox keeps.
	InboxSize = 100
	// InboxTTL is how long it keeps each.
	InboxTTL = 24 * time.Hour
	// brokerTimeout bounds each call to the hub's broker (Redis, in the
	// cluster) made while handling a request.
	brokerTimeout = 5 * time.Second
)

// Counter keeps each user's unread count where every process of the
// service sees it: in memory for one process (NewMemoryCounter), in Redis
// for a cluster.
type Counter interface {
	// Incr adds a notification to user's count and returns the new count.
	Incr(ctx context.Context, user string) (int, error)
	// Reset sets user's count to zero.
	Reset(ctx context.Context, user string) error
	// Get returns user's count.
	Get(ctx context.Context, user string) (int, error)
}

// memoryCounter is the Counter of one process. The counts outlive the
// tabs, so they survive reloads and reconnects; a restart forgets them.
type memoryCounter struct {
	mu     sync.Mutex
	unread map[string]int
}

// NewMemoryCounter returns the Counter of a service that runs in one
// process.
func NewMemoryCounter() Counter { return &memoryCounter{unread: map[string]int{}} }

func (c *memoryCounter) Incr(_ context.Context, user string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unread[user]++
	return c.unread[user], nil
}

func (c *memoryCounter) Reset(_ context.Context, user string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.unread, user) // zero, and nothing kept for users with none
	return nil
}

func (c *memoryCounter) Get(_ context.Context, user string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unread[user], nil
}

// service is what the handlers share: the hub its pages' sockets join and
// the unread counts.
type service struct {
	hub    *hub.Hub
	counts Counter
	logger *slog.Logger
}

// notify counts a new notification for user and publishes it to the
// user's inbox, on every process. It returns how many tabs the user has
// open, on every process, and the new unread count.
func (s *service) notify(ctx context.Context, user, text string) (tabs, unread int, err error) {
	ctx, cancel := context.WithTimeout(ctx, brokerTimeout)
	defer cancel()
	if unread, err = s.counts.Incr(ctx, user); err != nil {
		return 0, 0, err
	}
	if err := s.publish(ctx, user, push{Text: text, Unread: unread}); err != nil {
		return 0, unread, err
	}
	present, err := s.hub.ClusterPresence(ctx, inbox(user))
	if err != nil {
		return 0, unread, err
	}
	return len(present), unread, nil
}

// markRead resets user's unread count and tells every tab.
func (s *service) markRead(ctx context.Context, user string) error {
	ctx, cancel := context.WithTimeout(ctx, brokerTimeout)
	defer cancel()
	if err := s.counts.Reset(ctx, user); err != nil {
		return err
	}
	return s.publish(ctx, user, push{})
}

// publish sends p to user's tabs, the frame encoded once per process, and
// keeps it in the inbox's history. Queuing never waits for a peer; a tab
// too slow to keep up is closed by tornago.
func (s *service) publish(ctx context.Context, user string, p push) error {
	data, _ := json.Marshal(p) // a struct of a string and an int
	return s.hub.Publish(ctx, inbox(user), data, false)
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
	svc *service
}

func (h *readHandler) GetCurrentUser() (any, error) { return currentUser(h) }

// Post answers 204: a page posting the form without its script stays put.
func (h *readHandler) Post(args ...string) error {
	u, err := h.CurrentUser()
	if err != nil {
		return err
	}
	if err := h.svc.markRead(h.Request().Context(), u.(string)); err != nil {
		return unavailable(h.Logger(), err)
	}
	h.SetStatus(http.StatusNoContent)
	return nil
}

// notificationSocket is one open tab of a signed-in user.
type notificationSocket struct {
	tornago.WebSocketHandler
	svc  *service
	user string
}

func (h *notificationSocket) GetCurrentUser() (any, error) { return currentUser(h) }

// Open runs before the 101: without a valid cookie the handshake is
// answered 401, which the page's script (and any client) can tell from a
// network failure. Otherwise the tab joins the user's inbox, recovering
// what it missed since the position its script sent (those notifications
// first, then the wire protocol's "joined"; "not recovered" makes the page
// reload), is counted in the inbox's presence on every process, and gets
// the unread count.
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
	ctx, cancel := context.WithTimeout(h.Request().Context(), brokerTimeout)
	defer cancel()
	results, err := h.svc.hub.JoinRooms(ctx, h.Request().URL.Query(), h,
		hub.JoinOptions{Presence: &hub.ClientInfo{UserID: h.user}}, inbox(h.user))
	if err != nil {
		return tornago.HTTPError{Code: http.StatusBadRequest, Message: err.Error()}
	}
	if r := results[0]; r.Asked && !r.Recovered {
		h.Logger().Info("notify: a tab could not recover what it missed; it reloads", "user", h.user, "reason", r.Err)
	}
	unread, err := h.svc.counts.Get(ctx, h.user)
	if err != nil {
		return unavailable(h.Logger(), err)
	}
	return h.WriteJSON(push{Unread: unread})
}

// OnClose leaves the inbox; the unread count stays.
func (h *notificationSocket) OnClose() { h.svc.hub.LeaveAll(h) }

// unavailable logs err, the broker's or the counter's, and answers 503.
func unavailable(logger *slog.Logger, err error) error {
	logger.Error("notify: the hub's broker is unavailable", "error", err)
	return tornago.HTTPError{Code: http.StatusServiceUnavailable}
}

// notifyHandler is the back end's API.
type notifyHandler struct {
	tornago.RequestHandler
	svc   *service
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
// are open (on every process) and the user's unread count; 503 when the
// hub's broker cannot record it.
func (h *notifyHandler) Post(args ...string) error {
	var n notification
	if err := h.Bind(&n); err != nil {
		return err // a *tornago.ValidationError: 400 with the field errors as JSON
	}
	tabs, unread, err := h.svc.notify(h.Request().Context(), n.User, n.Text)
	if err != nil {
		return unavailable(h.Logger(), err)
	}
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
