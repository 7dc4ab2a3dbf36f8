// Command chat is Tornado's WebSocket chat demo (demos/websocket/chatdemo.py)
// ported to tornago, handler for handler:
//
//	GET /             the page, with the last 200 messages (index.html)
//	GET /chatsocket   the WebSocket: {"body": ...} in, {"id", "body", "html"} out to everyone
//	GET /static/...   chat.css and chat.js
//
// What differs from the Python demo, on purpose: the page's script uses
// wss: under https (the demo always dials ws:), messages are limited to
// 64 KiB (the demo caches up to 200 messages of Tornado's 10 MiB limit), a
// message that is not {"body": "..."} closes the socket with 1003 instead of
// an uncaught exception, and the script has no jQuery.
//
// It listens on -addr, else $ADDR, else 127.0.0.1:8888, and prints
// "listening on HOST:PORT" on standard output once it accepts connections.
// SIGINT or SIGTERM closes every WebSocket with 1001 and exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/websocket"
)

const (
	// defaultAddr is where the server listens without -addr or $ADDR.
	defaultAddr = "127.0.0.1:8888"
	// shutdownTimeout bounds the graceful stop.
	shutdownTimeout = 10 * time.Second
	// maxMessageSize bounds one chat message. Every message is kept in
	// the cache, so Tornado's default of 10 MiB would let 200 messages
	// take 2 GiB.
	maxMessageSize = 64 << 10
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
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := getenv("ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	fs.StringVar(&addr, "addr", addr, "listen address (default: $ADDR, else "+defaultAddr+")")
	deflate := fs.Bool("deflate", false, "negotiate permessage-deflate with clients that offer it (browsers do), as the Tornado demo does")
	dir := fs.String("dir", sourceDir(), "directory holding templates/ and static/")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "chat: unexpected arguments %q\n", fs.Args())
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	settings := tornago.Settings{
		TemplatePath:            filepath.Join(*dir, "templates"),
		StaticPath:              filepath.Join(*dir, "static"),
		XSRFCookies:             true,
		Logger:                  logger,
		WebSocketMaxMessageSize: maxMessageSize,
	}
	if *deflate {
		// Without server context takeover a connection keeps no
		// compressor between messages, and a broadcast frame is
		// compressed once for all members.
		settings.WebSocketCompression = &websocket.CompressionOptions{ServerNoContextTakeover: true}
	}
	app, err := newApp(settings, newChat(newLocalRoom(logger)))
	if err != nil {
		logger.Error("chat: settings", "error", err)
		return 1
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logger.Error("chat: listen", "addr", addr, "error", err)
		return 1
	}
	logger.Info("chat: serving", "addr", ln.Addr().String(), "deflate", *deflate)
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())

	served := make(chan error, 1)
	go func() { served <- app.Serve(ln) }()
	select {
	case err := <-served:
		logger.Error("chat: serve", "error", err)
		return 1
	case <-ctx.Done():
	}

	logger.Info("chat: stopping")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// Shutdown stops the HTTP server, then closes every WebSocket with
	// 1001 and waits for their OnClose.
	err = app.Shutdown(sctx)
	if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		logger.Error("chat: shutdown", "error", err)
		return 1
	}
	logger.Info("chat: stopped")
	return 0
}

// newApp is chatdemo.py's Application: the page and the socket, with the
// templates and static files of settings.
func newApp(settings tornago.Settings, c *chat) (*tornago.Application, error) {
	return tornago.NewApplication([]tornago.Route{
		{Pattern: `/`, Handler: func() tornago.Handler { return &mainHandler{chat: c} }},
		{Pattern: `/chatsocket`, Handler: func() tornago.Handler { return &chatSocket{chat: c} }},
	}, settings)
}

// sourceDir is the directory of this file, Tornado's
// os.path.dirname(__file__): `go run ./examples/chat` finds its templates
// from any working directory. A binary moved elsewhere (or built with
// -trimpath) needs -dir.
func sourceDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "."
	}
	return filepath.Dir(file)
}
