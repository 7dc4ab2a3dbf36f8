// Command cluster is the chat of examples/chat run as one of several
// processes sharing a Redis server: a message posted on any of them reaches
// the members of all, once each, and every process's page shows it. The
// room is a hub with the Redis broker (hub/redisbroker); this is a module
// of its own so that the root module does not depend on a Redis client.
//
// It takes the flags of examples/chat (-addr, -deflate, -dir) and -redis,
// the Redis server's address (else $REDIS_ADDR; one of them is required),
// and -prefix, the prefix of the Redis channels (chats sharing a Redis
// server need different ones). When Redis is unreachable each process goes
// on serving its own members and logs every publish that reached no other.
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/tornago/tornago/examples/chat/internal/chatserver"
	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/hub/redisbroker"
)

// defaultPrefix is the prefix of the chat's Redis channels without -prefix.
const defaultPrefix = "tornago:chat:"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one stops the process at once
	// instead of waiting for the graceful shutdown.
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the whole program: the chat server with a hub whose broker is
// Redis. It returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var addr, prefix string
	var client *redis.Client
	cmd := chatserver.Command{
		Name: "chat",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&addr, "redis", getenv("REDIS_ADDR"), "Redis server address, HOST:PORT (default: $REDIS_ADDR; required)")
			fs.StringVar(&prefix, "prefix", defaultPrefix, "prefix of the Redis channel names")
		},
		Hub: func(logger *slog.Logger) (*hub.Hub, error) {
			if addr == "" {
				return nil, errors.New("-redis (or $REDIS_ADDR) is required")
			}
			client = redis.NewClient(&redis.Options{Addr: addr})
			logger.Info("chat: rooms shared through Redis", "redis", addr, "prefix", prefix)
			b := redisbroker.New(client, redisbroker.WithPrefix(prefix), redisbroker.WithLogger(logger))
			return hub.New(hub.WithBroker(b)), nil
		},
	}
	code := cmd.Run(ctx, args, getenv, stdout, stderr)
	if client != nil {
		// Run has closed the hub, and with it the broker.
		_ = client.Close()
	}
	return code
}
