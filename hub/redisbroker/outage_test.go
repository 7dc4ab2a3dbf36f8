package redisbroker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/hub/internal/hubtest"
	"github.com/tornago/tornago/hub/redisbroker"
	"github.com/tornago/tornago/internal/testenv"
)

// A node reports itself up again after a Redis restart only once Redis has
// confirmed every subscription it needs: a message another node publishes
// as soon as it says up arrives, so the outage it logs covers all it
// missed. (Before, it said up while its many subscriptions were still
// being sent, and a publish in that window was lost with nobody logging
// it.)
func TestUpOnlyOnceResubscribed(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	prefix := uniquePrefix()
	opts := []redisbroker.Option{redisbroker.WithBackoff(10*time.Millisecond, 50*time.Millisecond)}
	n1, n2 := newNode(t, r.Addr, prefix, opts...), newNode(t, r.Addr, prefix, opts...)
	const rooms = 20000
	m := &hubtest.Member{}
	for i := range rooms {
		n2.hub.Join(fmt.Sprint(i), m)
	}
	waitUp(t, n1, n2)
	checker := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer checker.Close()
	ctx := context.Background()
	// unsubscribed counts the rooms whose channel has no subscriber.
	unsubscribed := func() int {
		missing := 0
		for from := 0; from < rooms; from += 1000 {
			var chans []string
			for i := from; i < from+1000; i++ {
				chans = append(chans, n2.broker.ChannelOf(fmt.Sprint("room:", i)))
			}
			got, err := checker.PubSubNumSub(ctx, chans...).Result()
			require.NoError(t, err)
			for _, c := range chans {
				if got[c] == 0 {
					missing++
				}
			}
		}
		return missing
	}
	assert.Zero(t, unsubscribed(), "up after the first connection")

	r.Kill()
	require.Eventually(t, func() bool { return !n2.hub.Health().Up }, 5*time.Second, time.Millisecond)
	r.Start(t)
	require.Eventually(t, func() bool { return n2.hub.Health().Up }, 10*time.Second, 100*time.Microsecond)
	assert.Zero(t, unsubscribed(), "up after the restart")
	assert.Contains(t, n2.logs.String(), "Redis connection restored")
}

// A publish racing Redis's death fails with its first error, matching
// ErrUnavailable, instead of waiting through the client's retries (here 3
// of them, 3 s apart): publishes are sent once.
func TestPublishRacingRedisDeathReturnsPromptly(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	prefix := uniquePrefix()
	slowRetries := redis.NewClient(&redis.Options{Addr: r.Addr, DialTimeout: time.Second,
		MaxRetries: 3, MinRetryBackoff: 3 * time.Second, MaxRetryBackoff: 3 * time.Second})
	n1 := startNode(t, slowRetries, prefix)
	waitUp(t, n1)
	ctx := context.Background()
	var slowest time.Duration
	var lastErr error
	for i := 0; lastErr == nil; i++ {
		if i == 100 {
			r.Kill()
		}
		start := time.Now()
		lastErr = n1.hub.Publish(ctx, "r", []byte("m"), false)
		slowest = max(slowest, time.Since(start))
		require.Less(t, i, 100000, "no publish failed")
	}
	require.ErrorIs(t, lastErr, hub.ErrLocalOnly)
	require.ErrorIs(t, lastErr, redisbroker.ErrUnavailable)
	assert.Less(t, slowest, 2*time.Second, "a publish waited for the client's retries")
	t.Logf("slowest publish %v; error %v", slowest, lastErr)
}

// A Redis that stops answering without closing its connections (a frozen
// host): a publish waits no longer than the client's ReadTimeout, then
// fails; the broker notices through its ping (WithPingInterval) and
// reports the outage, and once Redis answers again delivery resumes by
// itself.
func TestPublishToSilentRedis(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	prefix := uniquePrefix()
	opts := []redisbroker.Option{
		redisbroker.WithPingInterval(300 * time.Millisecond),
		redisbroker.WithBackoff(20*time.Millisecond, 100*time.Millisecond),
	}
	newClient := func() *redis.Client {
		return redis.NewClient(&redis.Options{Addr: r.Addr, ReadTimeout: 300 * time.Millisecond})
	}
	n1, n2 := startNode(t, newClient(), prefix, opts...), startNode(t, newClient(), prefix, opts...)
	waitUp(t, n1, n2)
	remote := &hubtest.Member{Keep: true}
	n2.hub.Join("r", remote)
	waitSubscribers(t, r.Addr, channel(prefix, "r"), 1)
	ctx := context.Background()

	r.Pause(t)
	paused := true
	defer func() {
		if paused {
			r.Resume(t)
		}
	}()
	start := time.Now()
	err := n1.hub.Publish(ctx, "r", []byte("lost"), false)
	took := time.Since(start)
	require.ErrorIs(t, err, hub.ErrLocalOnly)
	assert.Less(t, took, 2*time.Second, "bounded by the client's ReadTimeout")
	require.Eventually(t, func() bool { return !n1.hub.Health().Up && !n2.hub.Health().Up }, 10*time.Second, 5*time.Millisecond)
	assert.Contains(t, n1.logs.String(), "no answer to a ping")
	err = n1.hub.Publish(ctx, "r", []byte("lost too"), false)
	require.ErrorIs(t, err, redisbroker.ErrUnavailable, "fails at once once the loss is known")

	r.Resume(t)
	paused = false
	waitUp(t, n1, n2)
	waitSubscribers(t, r.Addr, channel(prefix, "r"), 1)
	require.NoError(t, n1.hub.Publish(ctx, "r", []byte("after"), false))
	require.Eventually(t, func() bool {
		got := remote.Received()
		return len(got) > 0 && got[len(got)-1] == "after"
	}, 10*time.Second, 5*time.Millisecond)
	assert.NotContains(t, remote.Received(), "lost")
	t.Logf("the publish to a silent Redis returned after %v: %v", took, err)
}
