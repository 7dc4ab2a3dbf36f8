// Command mount serves a tornago WebSocketHandler from a plain
// http.ServeMux instead of an Application's routes:
//
//	GET /rooms/{room}              join ROOM; every text message goes to its members
//	GET /rooms/{room}/as/{nick}    the same, with a nickname
//
// Application.HandlerFor turns the handler's factory into an http.Handler;
// the pattern's wildcards become the handler's PathKwargs, and PathArgs
// supplies the positional nickname. The nested module ./routers mounts the
// same handler in chi and gorilla/mux.
//
// It listens on -addr (default 127.0.0.1:8888) and prints
// "listening on HOST:PORT" once it accepts connections. SIGINT or SIGTERM
// closes every WebSocket with 1001 and exits.
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
	"syscall"
	"time"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/examples/mount/room"
)

// shutdownTimeout bounds the graceful stop.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// newMux mounts the room handler in an http.ServeMux.
func newMux(app *tornago.Application, hub *room.Hub) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /rooms/{room}", app.HandlerFor(hub.Factory()))
	mux.Handle("GET /rooms/{room}/as/{nick}", app.HandlerFor(hub.Factory(),
		tornago.PathArgs(func(r *http.Request) []string { return []string{r.PathValue("nick")} })))
	return mux
}

// run serves until ctx ends and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mount", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8888", "listen address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	// The Application carries the settings (cookie secret, WebSocket
	// limits, logger); its routes are not used here.
	app, err := tornago.NewApplication(nil, tornago.Settings{Logger: logger})
	if err != nil {
		logger.Error("mount: settings", "error", err)
		return 1
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		logger.Error("mount: listen", "error", err)
		return 1
	}
	srv := &http.Server{Handler: newMux(app, &room.Hub{}), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintln(stdout, "listening on", ln.Addr())

	select {
	case err := <-served:
		logger.Error("mount: serve", "error", err)
		return 1
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// http.Server.Shutdown does not see hijacked connections; the
	// Application's Shutdown closes the WebSockets with 1001.
	err = errors.Join(srv.Shutdown(sctx), app.Shutdown(sctx))
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		logger.Error("mount: shutdown", "error", err)
		return 1
	}
	return 0
}
