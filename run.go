package tornago

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
)

// Run serves the application on the TCP address addr (":8888"; "" means
// ":http") until ctx ends, then shuts it down gracefully and returns: the
// lifetime of a server process in one call, Tornado's
// IOLoop.current().start() plus a clean stop.
//
//	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//	defer stop()
//	if err := app.Run(ctx, ":8888"); err != nil {
//		log.Fatal(err)
//	}
//
// The shutdown is Shutdown's (no new connections, in-flight requests
// finish, every WebSocket gets 1001, or Settings.WebSocketShutdownCode,
// and its OnClose runs), bounded by
// Settings.ShutdownTimeout; its error is returned if it did not finish in
// time. Run returns nil after a clean stop, and an error at once if addr
// cannot be listened on. If serving fails, Run shuts down the same way and
// returns the serving error. To close WebSockets with a code of your own
// (1012 before a restart, say), Close them before ctx ends: Shutdown leaves
// a connection that is already closing alone.
func (a *Application) Run(ctx context.Context, addr string) error {
	if addr == "" {
		addr = ":http"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("tornago: %w", err)
	}
	return a.RunListener(ctx, l)
}

// RunListener is Run on an existing listener (one bound to port 0, whose
// address the caller reads first, say), which it closes.
func (a *Application) RunListener(ctx context.Context, l net.Listener) error {
	served := make(chan error, 1)
	go func() { served <- a.Serve(l) }()
	var serveErr error
	select {
	case serveErr = <-served:
		served = nil
	case <-ctx.Done():
	}
	// The shutdown gets its own deadline: ctx has ended (or serving failed,
	// and ctx may never end).
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.settings.ShutdownTimeout)
	defer cancel()
	err := a.Shutdown(sctx)
	if served != nil {
		// nil once Shutdown stopped it; ErrServerClosed if Shutdown came
		// first (ctx ended before Serve started).
		if serveErr = <-served; errors.Is(serveErr, http.ErrServerClosed) {
			serveErr = nil
		}
	}
	return errors.Join(serveErr, err)
}
