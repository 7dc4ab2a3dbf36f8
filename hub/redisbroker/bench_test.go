package redisbroker_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/hub/internal/hubtest"
	"github.com/tornago/tornago/hub/redisbroker"
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

// benchBackends runs f against the single Redis and the Redis Cluster.
func benchBackends(b *testing.B, f func(b *testing.B, newClient func() redis.UniversalClient)) {
	b.Run("redis=single", func(b *testing.B) {
		addr := redisAddr(b)
		f(b, func() redis.UniversalClient { return singleClient(addr) })
	})
	b.Run("redis=cluster", func(b *testing.B) {
		addrs := clusterAddrs(b)
		f(b, func() redis.UniversalClient { return clusterClient(addrs) })
	})
}

// benchProcess is a started broker with a recorder, closed with b.
func benchProcess(b *testing.B, client redis.UniversalClient, prefix string) (*redisbroker.Broker, *countingDeliverer) {
	d := &countingDeliverer{}
	br := redisbroker.New(client, redisbroker.WithPrefix(prefix), redisbroker.WithLogger(slog.New(slog.DiscardHandler)))
	br.Start(d)
	b.Cleanup(func() {
		_ = br.Close()
		_ = client.Close()
	})
	return br, d
}

// countingDeliverer counts what a broker delivers.
type countingDeliverer struct{ n atomic.Int64 }

func (d *countingDeliverer) Deliver(string, hub.Publication)           { d.n.Add(1) }
func (d *countingDeliverer) DeliverPresence(string, hub.PresenceEvent) {}

// BenchmarkPublishHistory publishes 64-byte messages one after another
// from one process to a room another process subscribes to, as plain
// pub/sub (history=off: one PUBLISH) and with history (history=on: the
// publish script, Size 1000, TTL 1 min), and waits until the other
// process has them all: what keeping history costs a publish.
func BenchmarkPublishHistory(b *testing.B) {
	benchBackends(b, func(b *testing.B, newClient func() redis.UniversalClient) {
		for _, history := range []bool{false, true} {
			b.Run(fmt.Sprintf("history=%v", map[bool]string{false: "off", true: "on"}[history]), func(b *testing.B) {
				prefix := uniquePrefix()
				pub, _ := benchProcess(b, newClient(), prefix)
				sub, got := benchProcess(b, newClient(), prefix)
				sub.Subscribe("room:bench")
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := sub.WaitSubscribed(ctx, "room:bench"); err != nil {
					b.Fatal(err)
				}
				msg := hub.Message{Data: make([]byte, 64), Binary: true}
				policy := hub.HistoryPolicy{Size: 1000, TTL: time.Minute}
				b.ResetTimer()
				for range b.N {
					var err error
					if history {
						_, err = pub.PublishHistory(ctx, "room:bench", msg, policy)
					} else {
						err = pub.Publish(ctx, "room:bench", msg)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				for got.n.Load() < int64(b.N) {
					if ctx.Err() != nil {
						b.Fatalf("delivered %d of %d", got.n.Load(), b.N)
					}
					runtime.Gosched()
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	})
}

// BenchmarkRecovery100 reads the 100 publications a member missed, on
// another process than the one that published them: the History call a
// rejoin with a position makes.
func BenchmarkRecovery100(b *testing.B) {
	benchBackends(b, func(b *testing.B, newClient func() redis.UniversalClient) {
		prefix := uniquePrefix()
		pub, _ := benchProcess(b, newClient(), prefix)
		reader, _ := benchProcess(b, newClient(), prefix)
		ctx := context.Background()
		policy := hub.HistoryPolicy{Size: 1000, TTL: time.Minute}
		var since hub.Position
		for i := range 101 {
			p, err := pub.PublishHistory(ctx, "room:bench", hub.Message{Data: make([]byte, 64)}, policy)
			if err != nil {
				b.Fatal(err)
			}
			if i == 0 {
				since = p
			}
		}
		b.ResetTimer()
		for range b.N {
			pubs, _, err := reader.History(ctx, "room:bench", since, policy)
			if err != nil || len(pubs) != 100 {
				b.Fatalf("%d publications, %v", len(pubs), err)
			}
		}
	})
}

// BenchmarkPresence10000 asks who is in a room of 10,000 members (each
// entry a client id, a user id and 16 bytes of info).
func BenchmarkPresence10000(b *testing.B) {
	benchBackends(b, func(b *testing.B, newClient func() redis.UniversalClient) {
		prefix := uniquePrefix()
		br, _ := benchProcess(b, newClient(), prefix)
		ctx := context.Background()
		const members = 10000
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < members; i += 8 {
					c := hub.ClientInfo{ClientID: fmt.Sprint("client", i), UserID: fmt.Sprint("user", i), Info: make([]byte, 16)}
					if err := br.AddPresence(ctx, "room:bench", c, time.Minute); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.ResetTimer()
		for range b.N {
			infos, err := br.Presence(ctx, "room:bench")
			if err != nil || len(infos) != members {
				b.Fatalf("%d entries, %v", len(infos), err)
			}
		}
	})
}
