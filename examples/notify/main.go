// Command notify is a notification service: users sign in, their pages
// keep a WebSocket open, and a back end pushes notifications to every open
// tab of a user through an HTTP API (package internal/notifyserver has
// the routes). It runs as one process, its hub and unread counts in
// memory; examples/notify/cluster runs it on several processes sharing
// Redis.
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
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/tornago/tornago/examples/notify/internal/notifyserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one stops the process at once
	// instead of waiting for the graceful shutdown.
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the whole program: one process, hub and counts in memory.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return notifyserver.Command{Name: "notify"}.Run(ctx, args, getenv, stdout, stderr)
}
