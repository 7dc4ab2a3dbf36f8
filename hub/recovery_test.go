package hub_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/hub/internal/hubtest"
	"github.com/tornago/tornago/websocket"
)

// historyRooms keeps history for rooms named "h:..." (Size 100) and
// "small:..." (Size 3), none for others.
func historyRooms(room string) hub.HistoryPolicy {
	switch {
	case strings.HasPrefix(room, "h:"):
		return hub.HistoryPolicy{Size: 100}
	case strings.HasPrefix(room, "small:"):
		return hub.HistoryPolicy{Size: 3}
	}
	return hub.HistoryPolicy{}
}

// expectPubs reads len(want) publication frames of room and checks their
// data; it returns the last one's position.
func expectPubs(t *testing.T, c *hubtest.Client, room string, want ...string) hub.Position {
	t.Helper()
	var last hub.Position
	for i, w := range want {
		f := c.ReadFrame(t)
		require.Equal(t, "pub", f.Tornago, "frame %d: %+v", i, f)
		require.Equal(t, room, f.Room)
		require.Equal(t, w, f.Data, "frame %d", i)
		if !last.IsZero() {
			require.Equal(t, last.Offset+1, f.Offset, "frame %d: offsets follow one another", i)
		}
		last = f.Position()
	}
	return last
}

// expectJoined reads the "joined" frame and checks whether it recovered
// (nil: recovery not asked for).
func expectJoined(t *testing.T, c *hubtest.Client, room string, recovered *bool) hubtest.Frame {
	t.Helper()
	f := c.ReadFrame(t)
	require.Equal(t, "joined", f.Tornago, "%+v", f)
	require.Equal(t, room, f.Room)
	if recovered == nil {
		require.Nil(t, f.Recovered)
	} else {
		require.NotNil(t, f.Recovered)
		require.Equal(t, *recovered, *f.Recovered, f.Reason)
	}
	return f
}

var (
	yes = new(true)
	no  = new(false)
)

func publishAll(t *testing.T, h *hub.Hub, room string, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		require.NoError(t, h.Publish(context.Background(), room, []byte(m), false))
	}
}

// TestRecoveryAfterReconnect: a page that reconnects with its last
// position gets what it missed, in order, then "joined", then live
// publications; one that joins an empty room keeps the position it was
// given and recovers the first publication.
func TestRecoveryAfterReconnect(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.WithHistory(historyRooms))
	srv := hubtest.Start(t, h, tornago.Settings{})

	c := srv.Connect(t, "recover=1&room=h:news")
	joined := expectJoined(t, c, "h:news", nil)
	require.NotEmpty(t, joined.Epoch)
	require.Zero(t, joined.Offset)
	c.CloseNow()

	publishAll(t, h, "h:news", "one")
	c = srv.Connect(t, "room=h:news&"+hubtest.SinceQuery(map[string]hub.Position{"h:news": joined.Position()}))
	pos := expectPubs(t, c, "h:news", "one")
	assert.Equal(t, hub.Position{Epoch: joined.Epoch, Offset: 1}, pos)
	joined = expectJoined(t, c, "h:news", yes)
	assert.Equal(t, pos, joined.Position())
	publishAll(t, h, "h:news", "two")
	pos = expectPubs(t, c, "h:news", "two")
	c.CloseNow()

	publishAll(t, h, "h:news", hubtest.Seq("missed", 5)...)
	c = srv.Connect(t, "room=h:news&"+hubtest.SinceQuery(map[string]hub.Position{"h:news": pos}))
	expectPubs(t, c, "h:news", hubtest.Seq("missed", 5)...)
	expectJoined(t, c, "h:news", yes)
	publishAll(t, h, "h:news", "live")
	expectPubs(t, c, "h:news", "live")

	// A publication's position is the one its receivers see.
	p, err := h.PublishWithPosition(context.Background(), "h:news", []byte("eight"), false)
	require.NoError(t, err)
	f := c.ReadFrame(t)
	assert.Equal(t, p, f.Position())
	assert.Equal(t, uint64(9), p.Offset)
}

// TestRecoveryNotRecovered: a position of another epoch, one too old, and
// one for a room without history are answered "recovered": false with a
// reason, and the member gets live publications all the same.
func TestRecoveryNotRecovered(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.WithHistory(historyRooms))
	srv := hubtest.Start(t, h, tornago.Settings{})
	ctx := context.Background()
	for name, since := range map[string]func(first hub.Position) hub.Position{
		"too old":     func(first hub.Position) hub.Position { return first },
		"other epoch": func(hub.Position) hub.Position { return hub.Position{Epoch: "gone", Offset: 4} },
		"beyond top":  func(first hub.Position) hub.Position { return hub.Position{Epoch: first.Epoch, Offset: 99} },
		"offset 0":    func(first hub.Position) hub.Position { return hub.Position{Epoch: first.Epoch} }, // 1 was pushed out
		"no history":  func(hub.Position) hub.Position { return hub.Position{Epoch: "e", Offset: 1} },
	} {
		t.Run(name, func(t *testing.T) {
			room := "small:" + name
			if name == "no history" {
				room = "plain"
			}
			first, err := h.PublishWithPosition(ctx, room, []byte("m0"), false)
			require.NoError(t, err)
			publishAll(t, h, room, "m1", "m2", "m3", "m4")
			c := srv.Connect(t, "room="+url.QueryEscape(room)+"&"+hubtest.SinceQuery(map[string]hub.Position{room: since(first)}))
			f := expectJoined(t, c, room, no)
			assert.NotEmpty(t, f.Reason)
			require.NoError(t, h.Publish(ctx, room, []byte("live"), false))
			if room == "plain" {
				c.Expect(t, "live")
				return
			}
			assert.Equal(t, hub.Position{Epoch: first.Epoch, Offset: 5}, f.Position(), "the position to keep")
			expectPubs(t, c, room, "live")
		})
	}
}

// TestMalformedSinceIs400: a SinceParam that is not the protocol's is
// refused before the 101.
func TestMalformedSinceIs400(t *testing.T) {
	t.Parallel()
	srv := hubtest.Start(t, hub.New(hub.WithHistory(historyRooms)), tornago.Settings{})
	for _, bad := range []string{`nope`, `{"h:a":{"offset":1}}`, `{"h:a":5}`} {
		_, resp, err := websocket.Dial(context.Background(),
			srv.URL+"?recover=1&room=h:a&"+hub.SinceParam+"="+bad, nil)
		require.Error(t, err, bad)
		require.NotNil(t, resp, bad)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
	}
}

// TestRecoveryAcrossNodes: a member drops on node 0, N messages are
// published on node 1, it rejoins with its position on node 2 and gets
// exactly those N, in order, then live ones.
func TestRecoveryAcrossNodes(t *testing.T) {
	t.Parallel()
	var hubs [3]*hub.Hub
	var srvs [3]*hubtest.Server
	for i, b := range hub.NewMemoryBrokers(3) {
		hubs[i] = hub.New(hub.WithBroker(b), hub.WithHistory(historyRooms))
		srvs[i] = hubtest.Start(t, hubs[i], tornago.Settings{})
	}
	watcher := srvs[1].Connect(t, "recover=1&room=h:x")
	expectJoined(t, watcher, "h:x", nil)

	c := srvs[0].Connect(t, "recover=1&room=h:x")
	expectJoined(t, c, "h:x", nil)
	publishAll(t, hubs[1], "h:x", "a", "b")
	pos := expectPubs(t, c, "h:x", "a", "b")
	c.CloseNow()

	publishAll(t, hubs[1], "h:x", hubtest.Seq("m", 20)...)
	expectPubs(t, watcher, "h:x", append([]string{"a", "b"}, hubtest.Seq("m", 20)...)...)
	c = srvs[2].Connect(t, "room=h:x&"+hubtest.SinceQuery(map[string]hub.Position{"h:x": pos}))
	expectPubs(t, c, "h:x", hubtest.Seq("m", 20)...)
	expectJoined(t, c, "h:x", yes)
	publishAll(t, hubs[0], "h:x", "live")
	expectPubs(t, c, "h:x", "live")
	expectPubs(t, watcher, "h:x", "live")
}

// TestRecoverySeamUnderConcurrentPublishing rejoins members with a
// position while two nodes publish without pause: each gets every
// publication after its position exactly once, in order, with no gap at
// the seam between history and live delivery. Repeated, so that the join
// lands at every point of a publish.
func TestRecoverySeamUnderConcurrentPublishing(t *testing.T) {
	t.Parallel()
	const rounds, perPublisher = 30, 200
	bs := hub.NewMemoryBrokers(3)
	hubs := make([]*hub.Hub, 3)
	for i, b := range bs {
		hubs[i] = hub.New(hub.WithBroker(b), hub.WithHistory(func(string) hub.HistoryPolicy {
			return hub.HistoryPolicy{Size: 10 * perPublisher}
		}))
	}
	ctx := context.Background()
	for round := range rounds {
		room := fmt.Sprintf("seam%d", round)
		start, err := hubs[0].PublishWithPosition(ctx, room, []byte("start"), false)
		require.NoError(t, err)

		var wg sync.WaitGroup
		for _, p := range hubs[:2] {
			wg.Go(func() {
				for j := range perPublisher {
					assert.NoError(t, p.Publish(ctx, room, fmt.Appendf(nil, "%d", j), false))
				}
			})
		}
		m := &hubtest.Member{Keep: true}
		var res hub.JoinResult
		wg.Go(func() { res = hubs[2].JoinWith(ctx, room, m, hub.JoinOptions{Since: start}) })
		wg.Wait()
		require.True(t, res.Recovered, "round %d: %v", round, res.Err)

		offsets := []uint64{start.Offset}
		sawJoined := false
		for _, data := range m.Received() {
			f := hubtest.ParseFrame(t, data)
			if f.Tornago == "joined" {
				require.False(t, sawJoined)
				sawJoined = true
				require.Equal(t, offsets[len(offsets)-1], f.Offset, "round %d: joined at the last recovered", round)
				continue
			}
			require.Equal(t, "pub", f.Tornago)
			require.Equal(t, offsets[len(offsets)-1]+1, f.Offset, "round %d: a gap or a duplicate", round)
			offsets = append(offsets, f.Offset)
		}
		require.True(t, sawJoined)
		require.Equal(t, start.Offset+2*perPublisher, offsets[len(offsets)-1], "round %d: all received", round)
		hubs[2].LeaveAll(m)
	}
}

// historyOutage is a memory broker whose history fails while down is set,
// as a Redis broker's does while Redis is unreachable.
type historyOutage struct {
	*hub.MemoryBroker
	mu   sync.Mutex
	down bool
}

func (b *historyOutage) setDown(down bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down = down
}

func (b *historyOutage) err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down {
		return fmt.Errorf("backplane unreachable")
	}
	return nil
}

func (b *historyOutage) PublishHistory(ctx context.Context, topic string, m hub.Message, p hub.HistoryPolicy) (hub.Position, error) {
	if err := b.err(); err != nil {
		return hub.Position{}, err
	}
	return b.MemoryBroker.PublishHistory(ctx, topic, m, p)
}

func (b *historyOutage) History(ctx context.Context, topic string, since hub.Position, p hub.HistoryPolicy) ([]hub.Publication, hub.Position, error) {
	if err := b.err(); err != nil {
		return nil, hub.Position{}, err
	}
	return b.MemoryBroker.History(ctx, topic, since, p)
}

// TestHistoryRoomWhenBrokerDown: a publish to a room with history fails
// with ErrNotDelivered and reaches nobody, not even local members (a room
// without history still delivers locally); a rejoin cannot be sure and
// says "not recovered"; once the broker is back, both work again.
func TestHistoryRoomWhenBrokerDown(t *testing.T) {
	t.Parallel()
	b := &historyOutage{MemoryBroker: hub.NewMemoryBroker()}
	h := hub.New(hub.WithBroker(b), hub.WithHistory(historyRooms))
	srv := hubtest.Start(t, h, tornago.Settings{})
	ctx := context.Background()
	c := srv.Connect(t, "recover=1&room=h:a&room=plain")
	joined := expectJoined(t, c, "h:a", nil)

	b.setDown(true)
	err := h.Publish(ctx, "h:a", []byte("lost"), false)
	require.ErrorIs(t, err, hub.ErrNotDelivered)
	assert.Contains(t, err.Error(), "backplane unreachable")
	require.NoError(t, h.Publish(ctx, "plain", []byte("local"), false))
	c.Expect(t, "local") // not "lost": nothing was delivered

	c2 := srv.Connect(t, "room=h:a&"+hubtest.SinceQuery(map[string]hub.Position{"h:a": joined.Position()}))
	f := expectJoined(t, c2, "h:a", no)
	assert.Contains(t, f.Reason, "backplane unreachable")

	b.setDown(false)
	publishAll(t, h, "h:a", "back")
	expectPubs(t, c, "h:a", "back")
	expectPubs(t, c2, "h:a", "back")
	c3 := srv.Connect(t, "room=h:a&"+hubtest.SinceQuery(map[string]hub.Position{"h:a": joined.Position()}))
	expectPubs(t, c3, "h:a", "back")
	expectJoined(t, c3, "h:a", yes)
}

// dropOne is a broker that loses one delivery to its hub, as a broker
// whose connection broke for a moment does.
type dropOne struct {
	*hub.MemoryBroker
	drop string // the data of the publication to lose
}

func (b *dropOne) Start(d hub.Deliverer) { b.MemoryBroker.Start(dropDeliverer{d, b.drop}) }

type dropDeliverer struct {
	hub.Deliverer
	drop string
}

func (d dropDeliverer) Deliver(topic string, p hub.Publication) {
	if string(p.Data) != d.drop {
		d.Deliverer.Deliver(topic, p)
	}
}

// TestGapTellsLiveMembers: when a node misses a publication of a room
// with history, its members get a "gap" frame before the next one, their
// cue to rebuild their state; members elsewhere see no gap.
func TestGapTellsLiveMembers(t *testing.T) {
	t.Parallel()
	bs := hub.NewMemoryBrokers(2)
	h0 := hub.New(hub.WithBroker(bs[0]), hub.WithHistory(historyRooms))
	h1 := hub.New(hub.WithBroker(&dropOne{MemoryBroker: bs[1], drop: "b"}), hub.WithHistory(historyRooms))
	s0 := hubtest.Start(t, h0, tornago.Settings{})
	s1 := hubtest.Start(t, h1, tornago.Settings{})
	c0 := s0.Connect(t, "recover=1&room=h:g")
	c1 := s1.Connect(t, "recover=1&room=h:g")
	expectJoined(t, c0, "h:g", nil)
	expectJoined(t, c1, "h:g", nil)
	publishAll(t, h0, "h:g", "a", "b", "c")
	expectPubs(t, c0, "h:g", "a", "b", "c")
	a := expectPubs(t, c1, "h:g", "a")
	gap := c1.ReadFrame(t)
	assert.Equal(t, "gap", gap.Tornago)
	assert.Equal(t, a, gap.Position())
	require.NotNil(t, gap.Recovered)
	assert.False(t, *gap.Recovered)
	expectPubs(t, c1, "h:g", "c")
}

// TestPositionCheckFindsAQuietGap: a node misses the last publication of a
// room that then goes quiet, so no later one reveals the gap; the
// position check finds the room behind the broker's top and sends its
// members the "gap" frame.
func TestPositionCheckFindsAQuietGap(t *testing.T) {
	t.Parallel()
	bs := hub.NewMemoryBrokers(2)
	h0 := hub.New(hub.WithBroker(bs[0]), hub.WithHistory(historyRooms))
	h1 := hub.New(hub.WithBroker(&dropOne{MemoryBroker: bs[1], drop: "b"}), hub.WithHistory(historyRooms),
		hub.WithPositionCheck(20*time.Millisecond))
	defer h1.Close()
	s1 := hubtest.Start(t, h1, tornago.Settings{})
	c1 := s1.Connect(t, "recover=1&room=h:q")
	expectJoined(t, c1, "h:q", nil)
	publishAll(t, h0, "h:q", "a", "b")
	a := expectPubs(t, c1, "h:q", "a")
	gap := c1.ReadFrame(t)
	assert.Equal(t, "gap", gap.Tornago)
	assert.Equal(t, a, gap.Position())
	assert.Contains(t, gap.Reason, fmt.Sprintf("%s:2", a.Epoch), "the room's top")
	publishAll(t, h0, "h:q", "c")
	expectPubs(t, c1, "h:q", "c") // no second gap: the check moved on
}
