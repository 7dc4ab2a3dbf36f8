package hub

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/tornago/tornago/websocket"
)

// Member is a connection that can join rooms. Every tornago handler that
// embeds WebSocketHandler is one (use the pointer, *MySocket): its
// WritePrepared queues a shared frame on the connection's bounded send
// queue, never waiting for the peer.
// Members are told apart with ==, so they must be comparable values, such
// as pointers. WritePrepared must not block and must not call back into the
// Hub; an error matching websocket.ErrClosed (tornago.ErrClosed, which
// includes tornago.ErrSendQueueFull) removes the member from every room.
type Member interface {
	WritePrepared(pm *websocket.PreparedMessage) error
}

// ErrLocalOnly is matched (errors.Is) by the error of a publish that
// reached this node's members but not the broker, so members on other
// nodes did not get it. The broker's own error is wrapped too.
var ErrLocalOnly = errors.New("hub: delivered on this node only")

// numShards is the number of locks the rooms and the members are spread
// over, so that joins and publishes on different rooms rarely meet.
const numShards = 32

// Hub keeps rooms of connections on this node and delivers published
// messages to them, and through its Broker to the rooms of other nodes.
// All methods are safe for concurrent use.
type Hub struct {
	broker  Broker
	history func(room string) HistoryPolicy
	seed    maphash.Seed
	topics  [numShards]topicShard
	members [numShards]memberShard
	failed  atomic.Uint64

	presence presence
	check    positionCheck
}

// Option configures a Hub.
type Option func(*Hub)

// WithBroker connects the hub to other nodes through b (a Redis broker from
// hub/redisbroker, say). The default is NewMemoryBroker: one process. A
// broker serves one hub; Hub.Close closes it.
func WithBroker(b Broker) Option { return func(h *Hub) { h.broker = b } }

// WithHistory keeps history for the rooms for which rule returns an
// enabled policy (Size > 0); other rooms, and users (SendToUser), keep
// none, as without this option. A publication to a room with history gets
// a position (PublishWithPosition returns it) and reaches members in a
// frame of the hub's wire protocol that carries it (see SinceParam), and a
// member that joins with JoinWith and a position is sent what it missed.
// rule must be fast and give the same policy for a name every time (it
// runs on every publish and join, on every node). The broker must be a
// HistoryBroker (the memory broker and the Redis broker are); with
// another, publishes to such rooms fail with ErrNotDelivered.
//
// To keep a user's notifications, give each user a room with history
// ("inbox:" + user, say) rather than using SendToUser.
func WithHistory(rule func(room string) HistoryPolicy) Option {
	return func(h *Hub) { h.history = rule }
}

// New returns a hub, and starts its broker.
func New(opts ...Option) *Hub {
	h := &Hub{seed: maphash.MakeSeed(), presence: newPresence()}
	for _, o := range opts {
		o(h)
	}
	if h.broker == nil {
		h.broker = NewMemoryBroker()
	}
	for i := range h.topics {
		h.topics[i].topics = map[string]*topic{}
		h.members[i].rooms = map[Member][]string{}
	}
	h.broker.Start(deliverer{h})
	h.startPositionCheck()
	return h
}

// Publish sends data to every member of room, on this node and (through the
// broker) on all others, as a binary message if binary is set, else as text
// (which must be valid UTF-8). The frame is encoded once per node and
// queued on each member's send queue, so Publish never waits for a peer,
// and a slow member (closed by its queue's bound) never delays the others.
//
// Order: members see one publisher's messages in the order it published
// them (one goroutine's calls, one after another). The members of a room
// on one node all see its messages in the same order, even from
// concurrent publishers; members on different nodes may see the messages
// of different publishers interleaved differently.
//
// The local members get the message even when the broker cannot carry it;
// the error then matches ErrLocalOnly (nothing is buffered for later).
//
// In a room with history (WithHistory) the message is first recorded in
// the room's history through the broker, which assigns its position and
// delivers it to every node, this one included, so that all members see
// the room's publications in the order of their positions. When the
// broker cannot record it, nobody gets it and the error matches
// ErrNotDelivered: there is no local-only delivery for such rooms.
func (h *Hub) Publish(ctx context.Context, room string, data []byte, binary bool) error {
	_, err := h.PublishWithPosition(ctx, room, data, binary)
	return err
}

// PublishWithPosition is Publish that also returns the publication's
// position in room's history: the zero Position for a room without
// history.
func (h *Hub) PublishWithPosition(ctx context.Context, room string, data []byte, binary bool) (Position, error) {
	topic := roomTopic(room)
	policy := h.policy(room)
	if !policy.Enabled() {
		return Position{}, h.publish(ctx, topic, data, binary)
	}
	if !binary && !utf8.Valid(data) {
		return Position{}, fmt.Errorf("hub: %w", websocket.ErrInvalidUTF8)
	}
	hb, ok := h.broker.(HistoryBroker)
	if !ok {
		return Position{}, fmt.Errorf("%w (%s): the broker keeps no history", ErrNotDelivered, topic)
	}
	pos, err := hb.PublishHistory(ctx, topic, Message{Data: data, Binary: binary}, policy)
	if err != nil {
		return Position{}, fmt.Errorf("%w (%s): %w", ErrNotDelivered, topic, err)
	}
	return pos, nil
}

// policy returns room's history policy.
func (h *Hub) policy(room string) HistoryPolicy {
	if h.history == nil {
		return HistoryPolicy{}
	}
	return h.history(room)
}

// SendToUser sends data to every connection of userID (see JoinUser), on
// every node, as Publish does for a room.
func (h *Hub) SendToUser(ctx context.Context, userID string, data []byte, binary bool) error {
	return h.publish(ctx, userTopic(userID), data, binary)
}

// SendTo sends data to one member of this node. It returns the member's
// error; a member that is closed is removed from its rooms.
func (h *Hub) SendTo(m Member, data []byte, binary bool) error {
	pm, err := prepare(data, binary)
	if err != nil {
		return err
	}
	err = m.WritePrepared(pm)
	if errors.Is(err, websocket.ErrClosed) {
		h.LeaveAll(m)
	}
	return err
}

func (h *Hub) publish(ctx context.Context, topic string, data []byte, binary bool) error {
	pm, err := prepare(data, binary)
	if err != nil {
		return err
	}
	h.fanout(topic, pm)
	if err := h.broker.Publish(ctx, topic, Message{Data: data, Binary: binary}); err != nil {
		h.failed.Add(1)
		return fmt.Errorf("%w (%s): %w", ErrLocalOnly, topic, err)
	}
	return nil
}

// deliverer is the Deliverer the hub gives its broker.
type deliverer struct{ h *Hub }

// Deliver takes a publication made on another node, or one with a
// position made on any node.
func (d deliverer) Deliver(topic string, p Publication) {
	if !p.Position.IsZero() {
		if room, ok := strings.CutPrefix(topic, roomPrefix); ok {
			d.h.fanoutHistory(topic, room, p)
		}
		return
	}
	pm, err := prepare(p.Data, p.Binary)
	if err != nil {
		return // the publishing hub checked it; nothing to send
	}
	d.h.fanout(topic, pm)
}

// DeliverPresence takes a join or leave announced on another node.
func (d deliverer) DeliverPresence(topic string, e PresenceEvent) {
	if room, ok := strings.CutPrefix(topic, roomPrefix); ok {
		d.h.fanoutPresence(topic, room, e, nil)
	}
}

// Health reports the broker's state and how many publishes reached only
// this node.
func (h *Hub) Health() Health {
	s := h.broker.Health()
	s.FailedPublishes = h.failed.Load()
	return s
}

// Close stops the position check, removes the presence entries of the
// members that left, stops refreshing the others (they expire within the
// presence TTL), and closes
// the broker. Local rooms keep working; publishes made after Close reach
// only this node.
func (h *Hub) Close() error {
	h.stopPositionCheck()
	h.closePresence()
	return h.broker.Close()
}

// prepare encodes a message once for all members.
func prepare(data []byte, binary bool) (*websocket.PreparedMessage, error) {
	typ := websocket.TextMessage
	if binary {
		typ = websocket.BinaryMessage
	}
	pm, err := websocket.NewPreparedMessage(typ, data)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	return pm, nil
}

func isClosed(err error) bool { return errors.Is(err, websocket.ErrClosed) }
