package redisbroker

import (
	"context"
	"crypto/sha1"
	"encoding/hex"

	"github.com/redis/go-redis/v9"
)

// script is a Lua script run with EVALSHA, sent whole (EVAL) only when
// the server does not have it cached yet. Its keys must share a hash slot
// on a cluster (the broker's keys of one topic do: see shard.key).
type script struct{ src, sha string }

func newScript(src string) script {
	sum := sha1.Sum([]byte(src))
	return script{src: src, sha: hex.EncodeToString(sum[:])}
}

// noRetry runs a command once: the client's retries after a network error
// would run a publish twice when the first attempt reached Redis and only
// its reply was lost, and a member would get the message twice.
type noRetry struct{ *redis.Cmd }

// NoRetry tells go-redis not to send the command again after an error.
func (noRetry) NoRetry() bool { return true }

// run runs sc with keys and args, once.
func (b *Broker) run(ctx context.Context, sc script, keys []string, args ...any) (any, error) {
	exec := func(cmd, ref string) *redis.Cmd {
		a := make([]any, 0, 3+len(keys)+len(args))
		a = append(a, cmd, ref, len(keys))
		for _, k := range keys {
			a = append(a, k)
		}
		c := redis.NewCmd(ctx, append(a, args...)...)
		_ = b.client.Process(ctx, noRetry{c})
		return c
	}
	c := exec("evalsha", sc.sha)
	if err := c.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		c = exec("eval", sc.src)
	}
	return c.Result()
}
