// Package notifyserver is the notification service of examples/notify:
// users sign in, their pages keep a WebSocket open, and a back end pushes
// notifications to every open tab of a user through an HTTP API.
//
//	GET  /login           the sign-in form
//	POST /login           sets the secure cookie "user" (XSRF-protected form)
//	POST /logout          clears it
//	GET  /                the user's page (signed-in users only; others go to /login)
//	GET  /notifications   the page's WebSocket: refused with 401 before the 101 without a valid cookie
//	POST /notify          {"user": ..., "text": ...} with "Authorization: Bearer TOKEN"
//	POST /read            marks the user's notifications read (XSRF-protected)
//
// Two commands run it: examples/notify, one process (an in-memory hub and
// counts), and examples/notify/cluster, any number of processes sharing
// one Redis server (the hub's Redis broker keeps each user's inbox history
// and presence, and the unread counts live in Redis), a module of its own
// so that the root module does not depend on a Redis client. Each user's
// notifications are publications to a hub room with history, so a page
// that reconnects, to the same process or another, is sent those it
// missed, once each.
package notifyserver

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/hub"
)

const (
	// defaultAddr is where the server listens without -addr or $ADDR.
	defaultAddr = "127.0.0.1:8888"
)

// Command is a notify server's command line: -addr (else $ADDR, else
// 127.0.0.1:8888), -token (else $NOTIFY_TOKEN), -cookie-secrets (else
// $NOTIFY_COOKIE_SECRETS, as "1=old,2=new": the highest version signs,
// every one verifies), -dir. Missing secrets and token are made up at
// random and logged. It prints "listening on HOST:PORT" on standard output
// once it accepts connections; when ctx ends it closes every WebSocket
// with 1001 and returns. Flags and Hub let a variant add its flags and
// choose the hub and the counter.
type Command struct {
	// Name prefixes the error messages and names the flag set.
	Name string
	// Flags, if set, adds the variant's flags to fs before it is parsed.
	Flags func(fs *flag.FlagSet)
	// Hub, if set, returns the hub (made with hub.WithHistory(InboxHistory))
	// and the unread counter once the flags are parsed; an error is a
	// usage error (exit status 2). The default is one process: a hub with
	// the memory broker and NewMemoryCounter. Run closes the hub.
	Hub func(logger *slog.Logger) (*hub.Hub, Counter, error)
}

// Run is the whole program: it serves until ctx ends and returns the exit
// status.
func (cmd Command) Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := getenv("ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	fs.StringVar(&addr, "addr", addr, "listen address (default: $ADDR, else "+defaultAddr+")")
	token := fs.String("token", getenv("NOTIFY_TOKEN"), "bearer token of POST /notify (default: $NOTIFY_TOKEN, else random)")
	secrets := fs.String("cookie-secrets", getenv("NOTIFY_COOKIE_SECRETS"),
		`cookie secrets as "VERSION=SECRET,...", the highest version signing (default: $NOTIFY_COOKIE_SECRETS, else random)`)
	dir := fs.String("dir", DefaultDir(), "directory holding templates/ and static/")
	if cmd.Flags != nil {
		cmd.Flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q\n", cmd.Name, fs.Args())
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	keys, current, err := parseSecrets(*secrets)
	if err != nil {
		fmt.Fprintf(stderr, "%s: -cookie-secrets: %v\n", cmd.Name, err)
		return 2
	}
	h, counts := hub.New(hub.WithHistory(InboxHistory)), NewMemoryCounter()
	if cmd.Hub != nil {
		var err error
		if h, counts, err = cmd.Hub(logger); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cmd.Name, err)
			return 2
		}
	}
	defer h.Close()
	if keys == nil {
		keys, current = map[int]string{1: rand.Text()}, 1
		logger.Warn("notify: no cookie secrets given; using a random one, so sign-ins end with the process")
	}
	if *token == "" {
		*token = rand.Text()
		logger.Warn("notify: no API token given; using a random one", "token", *token)
	}

	app, err := newApp(tornago.Settings{
		CookieSecrets: keys,
		KeyVersion:    current,
		XSRFCookies:   true,
		LoginURL:      "/login",
		TemplatePath:  filepath.Join(*dir, "templates"),
		StaticPath:    filepath.Join(*dir, "static"),
		Logger:        logger,
	}, &service{hub: h, counts: counts, logger: logger}, *token)
	if err != nil {
		logger.Error("notify: settings", "error", err)
		return 1
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logger.Error("notify: listen", "addr", addr, "error", err)
		return 1
	}
	logger.Info("notify: serving", "addr", ln.Addr().String(), "cookie_key_versions", slices.Sorted(maps.Keys(keys)), "signing_key", current)
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())

	context.AfterFunc(ctx, func() { logger.Info("notify: stopping") })
	// RunListener serves until ctx ends, then stops the HTTP server and,
	// meanwhile, closes every WebSocket with 1001 and waits for their
	// OnClose, within Settings.ShutdownTimeout (10 s).
	if err := app.RunListener(ctx, ln); err != nil {
		logger.Error("notify: shutdown", "error", err)
		return 1
	}
	logger.Info("notify: stopped")
	return 0
}

// newApp routes the service's handlers over svc.
func newApp(settings tornago.Settings, svc *service, token string) (*tornago.Application, error) {
	return tornago.NewApplication([]tornago.Route{
		{Pattern: `/`, Handler: tornago.Authenticated(func() tornago.Handler { return &mainHandler{} })},
		{Pattern: `/login`, Handler: func() tornago.Handler { return &loginHandler{} }},
		{Pattern: `/logout`, Handler: func() tornago.Handler { return &logoutHandler{} }},
		{Pattern: `/notifications`, Handler: func() tornago.Handler { return &notificationSocket{svc: svc} }},
		tornago.ReconnectJSRoute(`/reconnect\.js`), // the page's reconnecting WebSocket
		{Pattern: `/notify`, Handler: func() tornago.Handler { return &notifyHandler{svc: svc, token: token} }},
		{Pattern: `/read`, Handler: tornago.Authenticated(func() tornago.Handler { return &readHandler{svc: svc} })},
	}, settings)
}

// parseSecrets reads "1=old,2=new" into Settings.CookieSecrets and returns
// the highest version as the signing one; "" gives nil.
func parseSecrets(s string) (map[int]string, int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, 0, nil
	}
	keys := map[int]string{}
	current := -1
	for item := range strings.SplitSeq(s, ",") {
		v, secret, ok := strings.Cut(strings.TrimSpace(item), "=")
		version, err := strconv.Atoi(v)
		if !ok || err != nil || version < 0 || secret == "" {
			return nil, 0, fmt.Errorf("%q is not VERSION=SECRET", item)
		}
		if _, dup := keys[version]; dup {
			return nil, 0, fmt.Errorf("version %d given twice", version)
		}
		keys[version] = secret
		current = max(current, version)
	}
	return keys, current, nil
}

// DefaultDir is examples/notify in the source tree, where templates/ and
// static/ are, found from this file as Tornado's os.path.dirname(__file__):
// `go run ./examples/notify` finds its templates from any working
// directory. A binary moved elsewhere (or built with -trimpath) needs -dir.
func DefaultDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "."
	}
	return filepath.Join(filepath.Dir(file), "..", "..") // examples/notify, from internal/notifyserver
}
