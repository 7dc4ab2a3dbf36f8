// Command chat is Tornado's WebSocket chat demo (demos/websocket/chatdemo.py)
// ported to tornago, in one process: the server is package chatserver, its
// room a hub in memory. examples/chat/cluster runs the same chat on several
// processes sharing a Redis server.
//
// It listens on -addr, else $ADDR, else 127.0.0.1:8888, and prints
// "listening on HOST:PORT" on standard output once it accepts connections.
// SIGINT or SIGTERM closes every WebSocket with 1001 and exits.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tornago/tornago/examples/chat/internal/chatserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one stops the process at once
	// instead of waiting for the graceful shutdown.
	context.AfterFunc(ctx, stop)
	cmd := chatserver.Command{Name: "chat"} // the default hub: hub.New()
	os.Exit(cmd.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
