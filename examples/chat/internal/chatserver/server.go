// Package chatserver is Tornado's WebSocket chat demo
// (demos/websocket/chatdemo.py) ported to tornago, handler for handler:
//
//	GET /             the page, with the last 200 messages (index.html)
//	GET /chatsocket   the WebSocket: {"body": ...} in, {"id", "body", "html"} out to everyone
//	GET /static/...   chat.css and chat.js
//
// Two commands run it: examples/chat, one process (an in-memory hub), and
// examples/chat/cluster, any number of processes sharing one Redis server
// (a hub with the Redis broker), a module of its own so that the root
// module does not depend on a Redis client. Messages go through a Room, a
// HubRoom over the hub, so the handlers do not know which it is.
//
// What differs from the Python demo, on purpose: the page's script uses
// wss: under https (the demo always dials ws:), messages are limited to
// 64 KiB (the demo caches up to 200 messages of Tornado's 10 MiB limit), a
// message that is not {"body": "..."} closes the socket with 1003 instead of
// an uncaught exception, and the script has no jQuery.
package chatserver

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/websocket"
)

const (
	// defaultAddr is where the server listens without -addr or $ADDR.
	defaultAddr = "127.0.0.1:8888"
	// MaxMessageSize bounds one chat message. Every message is kept in
	// the cache, so Tornado's default of 10 MiB would let 200 messages
	// take 2 GiB.
	MaxMessageSize = 64 << 10
)

// Command is a chat server's command line. Every variant takes -addr (else
// $ADDR, else 127.0.0.1:8888), -deflate and -dir; Flags and Hub let a
// variant add its own flags and choose the hub the room runs on.
type Command struct {
	// Name prefixes the error messages and names the flag set.
	Name string
	// Flags, if set, adds the variant's flags to fs before it is parsed.
	Flags func(fs *flag.FlagSet)
	// Hub, if set, returns the hub for the room once the flags are
	// parsed; an error is a usage error (exit status 2). The default is
	// hub.New(), one process. Run closes the hub when it stops.
	Hub func(logger *slog.Logger) (*hub.Hub, error)
}

// Run is the whole program: it serves until ctx ends and returns the exit
// status. It prints "listening on HOST:PORT" on stdout once it accepts
// connections, and logs (log/slog) to stderr. When ctx ends it closes every
// WebSocket with 1001 and waits for them.
func (cmd Command) Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := getenv("ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	fs.StringVar(&addr, "addr", addr, "listen address (default: $ADDR, else "+defaultAddr+")")
	deflate := fs.Bool("deflate", false, "negotiate permessage-deflate with clients that offer it (browsers do), as the Tornado demo does")
	dir := fs.String("dir", DefaultDir(), "directory holding templates/ and static/")
	ping := fs.Duration("ping", 0, "ping every WebSocket peer this often, to keep idle sockets open through proxies (0: no pings)")
	certFile := fs.String("tls-cert", "", "serve https (and wss) with this PEM certificate (chain) file; needs -tls-key")
	keyFile := fs.String("tls-key", "", "the PEM private key of -tls-cert")
	http2 := fs.Bool("http2", false, "with -tls-cert, serve HTTP/2 and WebSockets over it (RFC 8441); needs GODEBUG=http2xconnect=1 in the environment")
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
	if (*certFile == "") != (*keyFile == "") || *http2 && *certFile == "" {
		fmt.Fprintf(stderr, "%s: -tls-cert and -tls-key go together, and -http2 needs them\n", cmd.Name)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	h := hub.New()
	if cmd.Hub != nil {
		var err error
		if h, err = cmd.Hub(logger); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cmd.Name, err)
			return 2
		}
	}
	defer h.Close()

	settings := tornago.Settings{
		TemplatePath:            filepath.Join(*dir, "templates"),
		StaticPath:              filepath.Join(*dir, "static"),
		XSRFCookies:             true,
		Logger:                  logger,
		WebSocketMaxMessageSize: MaxMessageSize,
		WebSocketPingInterval:   *ping,
		HTTP2:                   *http2,
	}
	if *deflate {
		// Without server context takeover a connection keeps no
		// compressor between messages, and a broadcast frame is
		// compressed once for all members.
		settings.WebSocketCompression = &websocket.CompressionOptions{ServerNoContextTakeover: true}
	}
	app, err := NewApp(settings, NewHubRoom(h, logger))
	if err != nil {
		logger.Error("chat: settings", "error", err)
		return 1
	}

	var cert tls.Certificate
	if *certFile != "" {
		if cert, err = tls.LoadX509KeyPair(*certFile, *keyFile); err != nil {
			logger.Error("chat: TLS certificate", "error", err)
			return 1
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logger.Error("chat: listen", "addr", addr, "error", err)
		return 1
	}
	logger.Info("chat: serving", "addr", ln.Addr().String(), "deflate", *deflate, "tls", *certFile != "", "http2", *http2)
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())

	context.AfterFunc(ctx, func() { logger.Info("chat: stopping") })
	// RunListener serves until ctx ends, then stops the HTTP server and,
	// meanwhile, closes every WebSocket with 1001 and waits for their
	// OnClose, within Settings.ShutdownTimeout (10 s).
	run := app.RunListener
	if *certFile != "" {
		run = func(ctx context.Context, l net.Listener) error {
			return app.RunListenerTLS(ctx, l, &tls.Config{Certificates: []tls.Certificate{cert}})
		}
	}
	if err := run(ctx, ln); err != nil {
		logger.Error("chat: shutdown", "error", err)
		return 1
	}
	logger.Info("chat: stopped")
	return 0
}

// NewApp is chatdemo.py's Application: the page and the socket, with the
// templates and static files of settings, its messages delivered by room.
func NewApp(settings tornago.Settings, room Room) (*tornago.Application, error) {
	c := newChat(room)
	return tornago.NewApplication([]tornago.Route{
		{Pattern: `/`, Handler: func() tornago.Handler { return &mainHandler{chat: c} }},
		{Pattern: `/chatsocket`, Handler: func() tornago.Handler { return &chatSocket{chat: c} }},
		tornago.ReconnectJSRoute(`/reconnect\.js`), // the page's reconnecting WebSocket
	}, settings)
}

// DefaultDir is examples/chat in the source tree, where templates/ and
// static/ are, found from this file as Tornado's os.path.dirname(__file__):
// `go run ./examples/chat` finds its templates from any working directory.
// A binary moved elsewhere (or built with -trimpath) needs -dir.
func DefaultDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "."
	}
	return filepath.Join(filepath.Dir(file), "..", "..") // examples/chat, from internal/chatserver
}
