package hub_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/hub/internal/hubtest"
)

// BenchmarkPublishHistory publishes a 64-byte message to one room of 100
// members, with the room's history off (the plain fan-out) and on (the
// memory broker's ring and the frame with the position): what keeping
// history costs a publish.
func BenchmarkPublishHistory(b *testing.B) {
	for _, history := range []bool{false, true} {
		b.Run(fmt.Sprintf("history=%v", history), func(b *testing.B) {
			h := hub.New(hub.WithHistory(func(string) hub.HistoryPolicy {
				if history {
					return hub.HistoryPolicy{Size: 1000}
				}
				return hub.HistoryPolicy{}
			}))
			defer h.Close()
			ctx := context.Background()
			for range 100 {
				h.JoinWith(ctx, "r", &hubtest.Member{}, hub.JoinOptions{})
			}
			msg := make([]byte, 64)
			b.ReportAllocs()
			for b.Loop() {
				if err := h.Publish(ctx, "r", msg, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecover100 rejoins a member with a position 100 publications
// old: the history read, the merge, and the 101 frames (100 and
// "joined") queued on the member.
func BenchmarkRecover100(b *testing.B) {
	h := hub.New(hub.WithHistory(func(string) hub.HistoryPolicy { return hub.HistoryPolicy{Size: 1000} }))
	defer h.Close()
	ctx := context.Background()
	since, err := h.PublishWithPosition(ctx, "r", []byte("first"), false)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 64)
	for range 100 {
		if err := h.Publish(ctx, "r", msg, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		m := &hubtest.Member{}
		res := h.JoinWith(ctx, "r", m, hub.JoinOptions{Since: since})
		if !res.Recovered || res.Missed != 100 {
			b.Fatalf("recovered %v, %d missed: %v", res.Recovered, res.Missed, res.Err)
		}
		h.LeaveAll(m)
	}
}

// BenchmarkClusterPresence10000 lists a room of 10,000 members with
// presence (the memory broker's entries).
func BenchmarkClusterPresence10000(b *testing.B) {
	h := hub.New()
	defer h.Close()
	ctx := context.Background()
	for i := range 10000 {
		res := h.JoinWith(ctx, "r", &hubtest.Member{}, hub.JoinOptions{
			Presence: &hub.ClientInfo{UserID: fmt.Sprintf("user%d", i), Info: []byte(`{"name":"someone"}`)}})
		if res.PresenceErr != nil {
			b.Fatal(res.PresenceErr)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := h.ClusterPresence(ctx, "r")
		if err != nil || len(got) != 10000 {
			b.Fatalf("%d entries: %v", len(got), err)
		}
	}
}
