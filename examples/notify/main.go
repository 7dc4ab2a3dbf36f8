// Command notify is a notification service: users sign in, their pages
// keep a WebSocket open, and a back end pushes notifications to every open
// tab of a user through an HTTP API.
//
//	GET  /login           the sign-in form
//	POST /login           sets the secure cookie "user" (XSRF-protected form)
//	POST /logout          clears it
//	GET  /                the user's page (signed-in users only; others go to /login)
//	GET  /notifications   the page's WebSocket: refused with 401 before the 101 without a valid cookie
//	POST /notify          {"user": ..., "text": ...} with "Authorization: Bearer TOKEN"
//	POST /read            marks the user's notifications read (XSRF-protected)
//
// It listens on -addr, else $ADDR, else 127.0.0.1:8888, and prints
// "listening on HOST:PORT" on standard output once it accepts connections.
// The API token comes from -token or $NOTIFY_TOKEN; the cookie secrets from
// -cookie-secrets or $NOTIFY_COOKIE_SECRETS, as "1=old,2=new" (the highest
// version signs, every one verifies: key rotation). Missing ones are made
// up at random and logged. SIGINT or SIGTERM closes every WebSocket with
// 1001 and exits.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/tornago/tornago"
)

const (
	// defaultAddr is where the server listens without -addr or $ADDR.
	defaultAddr = "127.0.0.1:8888"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one stops the process at once
	// instead of waiting for the graceful shutdown.
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the whole program: it serves until ctx ends and returns the exit
// status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("notify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := getenv("ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	fs.StringVar(&addr, "addr", addr, "listen address (default: $ADDR, else "+defaultAddr+")")
	token := fs.String("token", getenv("NOTIFY_TOKEN"), "bearer token of POST /notify (default: $NOTIFY_TOKEN, else random)")
	secrets := fs.String("cookie-secrets", getenv("NOTIFY_COOKIE_SECRETS"),
		`cookie secrets as "VERSION=SECRET,...", the highest version signing (default: $NOTIFY_COOKIE_SECRETS, else random)`)
	dir := fs.String("dir", sourceDir(), "directory holding templates/ and static/")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "notify: unexpected arguments %q\n", fs.Args())
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	keys, current, err := parseSecrets(*secrets)
	if err != nil {
		fmt.Fprintf(stderr, "notify: -cookie-secrets: %v\n", err)
		return 2
	}
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
	}, newRegistry(logger), *token)
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

// newApp routes the service's handlers.
func newApp(settings tornago.Settings, reg *registry, token string) (*tornago.Application, error) {
	return tornago.NewApplication([]tornago.Route{
		{Pattern: `/`, Handler: tornago.Authenticated(func() tornago.Handler { return &mainHandler{} })},
		{Pattern: `/login`, Handler: func() tornago.Handler { return &loginHandler{} }},
		{Pattern: `/logout`, Handler: func() tornago.Handler { return &logoutHandler{} }},
		{Pattern: `/notifications`, Handler: func() tornago.Handler { return &notificationSocket{reg: reg} }},
		tornago.ReconnectJSRoute(`/reconnect\.js`), // the page's reconnecting WebSocket
		{Pattern: `/notify`, Handler: func() tornago.Handler { return &notifyHandler{reg: reg, token: token} }},
		{Pattern: `/read`, Handler: tornago.Authenticated(func() tornago.Handler { return &readHandler{reg: reg} })},
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

// sourceDir is the directory of this file (Tornado's
// os.path.dirname(__file__)), so `go run ./examples/notify` finds its
// templates from any working directory; a moved binary needs -dir.
func sourceDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "."
	}
	return filepath.Dir(file)
}
