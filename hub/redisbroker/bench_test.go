package redisbroker_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tornago/tornago/hub/internal/hubtest"
)

// BenchmarkFanoutThroughRedis publishes 64-byte messages on node 1 to a
// room whose members (counting members, no sockets) are on node 2, and
// waits until every member has every message: the cost of a message's
// trip through Redis plus the fan-out on the receiving node.
func BenchmarkFanoutThroughRedis(b *testing.B) {
	for _, members := range []int{1, 1000, 10000} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			addr, prefix := redisAddr(b), uniquePrefix()
			n1, n2 := newNode(b, addr, prefix), newNode(b, addr, prefix)
			waitUp(b, n1, n2)
			ms := make([]*hubtest.Member, members)
			for i := range ms {
				ms[i] = &hubtest.Member{}
				n2.hub.Join("r", ms[i])
			}
			waitSubscribers(b, addr, channel(prefix, "r"), 1)
			msg := make([]byte, 64)
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				if err := n1.hub.Publish(ctx, "r", msg, true); err != nil {
					b.Fatal(err)
				}
			}
			deadline := time.Now().Add(time.Minute)
			for _, m := range ms {
				for m.Count.Load() < int64(b.N) {
					if time.Now().After(deadline) {
						b.Fatalf("delivered %d of %d", m.Count.Load(), b.N)
					}
					time.Sleep(100 * time.Microsecond)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(b.N*members)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkPublishLatency publishes one message at a time from node 1 and
// waits for node 2's member to get it: the round trip through Redis.
func BenchmarkPublishLatency(b *testing.B) {
	addr, prefix := redisAddr(b), uniquePrefix()
	n1, n2 := newNode(b, addr, prefix), newNode(b, addr, prefix)
	waitUp(b, n1, n2)
	m := &hubtest.Member{}
	n2.hub.Join("r", m)
	waitSubscribers(b, addr, channel(prefix, "r"), 1)
	msg := make([]byte, 64)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if err := n1.hub.Publish(ctx, "r", msg, true); err != nil {
			b.Fatal(err)
		}
		for m.Count.Load() <= int64(i) {
			runtime.Gosched() // the wait is the measurement
		}
	}
}
