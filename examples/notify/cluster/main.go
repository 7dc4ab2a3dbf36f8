// Command cluster is the notification service of examples/notify run as
// one of several processes sharing a Redis server: the hub's Redis broker
// keeps each user's inbox (its history and the presence of the user's
// tabs) in Redis, and the unread counts live there too, so a notification
// posted to any process reaches the user's tabs on all of them, and a tab
// that reconnects to any process after a drop (its process killed, say)
// is sent the notifications it missed, once each. This is a module of its
// own so that the root module does not depend on a Redis client.
//
// It takes the flags of examples/notify (-addr, -token, -cookie-secrets,
// -dir; every process needs the same token and secrets) and -redis, the
// Redis server's address (else $REDIS_ADDR; one of them is required), and
// -prefix, the prefix of the Redis keys and channels (services sharing a
// Redis server need different ones). When Redis is unreachable, POST
// /notify answers 503: a notification that the inbox's history lacks
// could not be recovered.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tornago/tornago/examples/notify/internal/notifyserver"
	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/hub/redisbroker"
)

// defaultPrefix is the prefix of the service's Redis keys without -prefix.
const defaultPrefix = "tornago:notify:"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one stops the process at once
	// instead of waiting for the graceful shutdown.
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the whole program: the notify server with a hub whose broker is
// Redis and unread counts in Redis. It returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var addr, prefix string
	var client *redis.Client
	cmd := notifyserver.Command{
		Name: "notify",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&addr, "redis", getenv("REDIS_ADDR"), "Redis server address, HOST:PORT (default: $REDIS_ADDR; required)")
			fs.StringVar(&prefix, "prefix", defaultPrefix, "prefix of the Redis keys and channels")
		},
		Hub: func(logger *slog.Logger) (*hub.Hub, notifyserver.Counter, error) {
			if addr == "" {
				return nil, nil, errors.New("-redis (or $REDIS_ADDR) is required")
			}
			client = redis.NewClient(&redis.Options{Addr: addr})
			logger.Info("notify: inboxes shared through Redis", "redis", addr, "prefix", prefix)
			b := redisbroker.New(client, redisbroker.WithPrefix(prefix+"hub:"), redisbroker.WithLogger(logger))
			// The position check finds a process that missed the last
			// notifications of a quiet inbox (its subscription broke while
			// Redis stayed up): the tabs there reload.
			h := hub.New(hub.WithBroker(b), hub.WithHistory(notifyserver.InboxHistory),
				hub.WithPositionCheck(10*time.Second))
			return h, redisCounter{client, prefix + "unread:"}, nil
		},
	}
	code := cmd.Run(ctx, args, getenv, stdout, stderr)
	if client != nil {
		// Run has closed the hub, and with it the broker.
		_ = client.Close()
	}
	return code
}

// redisCounter keeps the unread counts in Redis, one key per user.
type redisCounter struct {
	client *redis.Client
	prefix string
}

func (c redisCounter) Incr(ctx context.Context, user string) (int, error) {
	n, err := c.client.Incr(ctx, c.prefix+user).Result()
	if err != nil {
		return 0, fmt.Errorf("notify: counting: %w", err)
	}
	return int(n), nil
}

func (c redisCounter) Reset(ctx context.Context, user string) error {
	if err := c.client.Del(ctx, c.prefix+user).Err(); err != nil {
		return fmt.Errorf("notify: resetting the count: %w", err)
	}
	return nil
}

func (c redisCounter) Get(ctx context.Context, user string) (int, error) {
	n, err := c.client.Get(ctx, c.prefix+user).Int()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("notify: reading the count: %w", err)
	}
	return n, nil
}
