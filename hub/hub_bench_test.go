package hub_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/hub/internal/hubtest"
)

// BenchmarkPublish publishes a 64-byte message to one room of n members
// that count what they receive (no sockets: the hub's own cost).
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			h := hub.New()
			ms := make([]*hubtest.Member, n)
			for i := range ms {
				ms[i] = &hubtest.Member{}
				h.Join("r", ms[i])
			}
			msg := make([]byte, 64)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := h.Publish(ctx, "r", msg, true); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
		})
	}
}

// BenchmarkPublishParallel publishes from every core, each goroutine to a
// room of its own of 1,000 members: shards keep publishers apart.
func BenchmarkPublishParallel(b *testing.B) {
	h := hub.New()
	const rooms, members = 64, 1000
	for r := range rooms {
		for range members {
			h.Join(fmt.Sprint(r), &hubtest.Member{})
		}
	}
	var next atomic.Int64
	msg := make([]byte, 64)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		room := fmt.Sprint(next.Add(1) % rooms)
		ctx := context.Background()
		for pb.Next() {
			if err := h.Publish(ctx, room, msg, true); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/members, "ns/delivery")
}

// BenchmarkJoinLeave joins and leaves rooms from every core.
func BenchmarkJoinLeave(b *testing.B) {
	h := hub.New()
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		m := &hubtest.Member{}
		room := fmt.Sprint(next.Add(1))
		for pb.Next() {
			h.Join(room, m)
			h.Leave(room, m)
		}
	})
}
