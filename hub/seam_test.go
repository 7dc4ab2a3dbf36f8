package hub_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/hub/internal/hubtest"
)

// hookBroker is a memory broker that runs a hook once at each step of a
// join's recovery, to put an event exactly in the window a real broker
// leaves open only now and then.
type hookBroker struct {
	*hub.MemoryBroker
	afterWait    func() // once the subscription is in effect, before history is read
	afterHistory func() // once history was read
}

func (b *hookBroker) WaitSubscribed(ctx context.Context, topic string) error {
	err := b.MemoryBroker.WaitSubscribed(ctx, topic)
	if f := b.afterWait; f != nil {
		b.afterWait = nil
		f()
	}
	return err
}

func (b *hookBroker) History(ctx context.Context, topic string, since hub.Position, p hub.HistoryPolicy) ([]hub.Publication, hub.Position, error) {
	pubs, top, err := b.MemoryBroker.History(ctx, topic, since, p)
	if f := b.afterHistory; f != nil {
		b.afterHistory = nil
		f()
	}
	return pubs, top, err
}

// frames decodes what m received.
func frames(t *testing.T, m *hubtest.Member) []hubtest.Frame {
	var fs []hubtest.Frame
	for _, data := range m.Received() {
		fs = append(fs, hubtest.ParseFrame(t, data))
	}
	return fs
}

// TestRecoveryMergesTheSeam puts a publication in each window of a
// recovering join: one after the subscription and before the history read
// (the member receives it live, buffered, and history holds it too: sent
// once), one after the read (live only: sent after "joined").
func TestRecoveryMergesTheSeam(t *testing.T) {
	t.Parallel()
	b := &hookBroker{MemoryBroker: hub.NewMemoryBroker()}
	h := hub.New(hub.WithBroker(b), hub.WithHistory(historyRooms))
	ctx := context.Background()
	since, err := h.PublishWithPosition(ctx, "h:s", []byte("1"), false)
	require.NoError(t, err)
	publishAll(t, h, "h:s", "2", "3")
	b.afterWait = func() { publishAll(t, h, "h:s", "during the read") }
	b.afterHistory = func() { publishAll(t, h, "h:s", "after the read") }

	m := &hubtest.Member{Keep: true}
	res := h.JoinWith(ctx, "h:s", m, hub.JoinOptions{Since: since})
	require.True(t, res.Recovered, "%v", res.Err)
	assert.Equal(t, 3, res.Missed)
	assert.Equal(t, uint64(5), res.Position.Offset)
	publishAll(t, h, "h:s", "live")

	type got struct {
		Kind   string
		Data   string
		Offset uint64
	}
	var gots []got
	for _, f := range frames(t, m) {
		gots = append(gots, got{f.Tornago, f.Data, f.Offset})
	}
	assert.Equal(t, []got{
		{"pub", "2", 2},
		{"pub", "3", 3},
		{"pub", "during the read", 4},
		{"joined", "", 4},
		{"pub", "after the read", 5},
		{"pub", "live", 6},
	}, gots)
}

// TestPresenceLeaveDuringJoin: a member that leaves while its join is
// under way (between its joining the room and its presence entry being
// recorded) leaves no entry behind.
func TestPresenceLeaveDuringJoin(t *testing.T) {
	t.Parallel()
	b := &hookBroker{MemoryBroker: hub.NewMemoryBroker()}
	h := hub.New(hub.WithBroker(b), hub.WithHistory(historyRooms))
	defer h.Close()
	ctx := context.Background()
	m := &hubtest.Member{}
	b.afterWait = func() { h.LeaveAll(m) }
	res := h.JoinWith(ctx, "h:p", m, hub.JoinOptions{Presence: &hub.ClientInfo{ClientID: "gone"}})
	require.Error(t, res.PresenceErr)
	got, err := h.ClusterPresence(ctx, "h:p")
	require.NoError(t, err)
	assert.Empty(t, got, "the entry of a member that left")
}

// lagBroker is a memory broker whose deliveries to its hub can be held
// back, as a Redis subscription lags behind the script that recorded the
// publication.
type lagBroker struct {
	*hub.MemoryBroker
	d *lagDeliverer
}

type lagDeliverer struct {
	hub.Deliverer
	mu   sync.Mutex
	hold bool
	held []hub.Publication
}

func (b *lagBroker) Start(d hub.Deliverer) {
	b.d = &lagDeliverer{Deliverer: d}
	b.MemoryBroker.Start(b.d)
}

func (d *lagDeliverer) Deliver(topic string, p hub.Publication) {
	d.mu.Lock()
	if d.hold {
		d.held = append(d.held, p)
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	d.Deliverer.Deliver(topic, p)
}

// release delivers what was held and stops holding.
func (d *lagDeliverer) release(topic string) {
	d.mu.Lock()
	held := d.held
	d.hold, d.held = false, nil
	d.mu.Unlock()
	for _, p := range held {
		d.Deliverer.Deliver(topic, p)
	}
}

// TestRecoveryAheadOfTheLivePath: history holds a publication that has not
// yet reached this process's live path; the rejoining member gets it from
// history, and not again when it arrives live.
func TestRecoveryAheadOfTheLivePath(t *testing.T) {
	t.Parallel()
	b := &lagBroker{MemoryBroker: hub.NewMemoryBroker()}
	h := hub.New(hub.WithBroker(b), hub.WithHistory(historyRooms))
	ctx := context.Background()
	watcher := &hubtest.Member{Keep: true}
	h.JoinWith(ctx, "h:l", watcher, hub.JoinOptions{})
	since, err := h.PublishWithPosition(ctx, "h:l", []byte("1"), false)
	require.NoError(t, err)
	publishAll(t, h, "h:l", "2")
	b.d.mu.Lock()
	b.d.hold = true
	b.d.mu.Unlock()
	publishAll(t, h, "h:l", "3") // in history, not yet delivered here

	m := &hubtest.Member{Keep: true}
	res := h.JoinWith(ctx, "h:l", m, hub.JoinOptions{Since: since})
	require.True(t, res.Recovered, "%v", res.Err)
	b.d.release(topic("h:l"))
	publishAll(t, h, "h:l", "4")

	var got []string
	for _, f := range frames(t, m) {
		got = append(got, f.Tornago+" "+f.Data)
	}
	assert.Equal(t, []string{"pub 2", "pub 3", "joined ", "pub 4"}, got)
	var watched []string
	for _, f := range frames(t, watcher)[1:] { // after its joined
		watched = append(watched, f.Data)
	}
	assert.Equal(t, []string{"1", "2", "3", "4"}, watched, "the others get the late publication")
}

// topic is the broker's name of room.
func topic(room string) string { return "room:" + room }
