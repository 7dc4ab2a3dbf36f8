package hub

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync/atomic"

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
	seed    maphash.Seed
	topics  [numShards]topicShard
	members [numShards]memberShard
	failed  atomic.Uint64
}

// Option configures a Hub.
type Option func(*Hub)

// WithBroker connects the hub to other nodes through b (a Redis broker from
// hub/redisbroker, say). The default is NewMemoryBroker: one process. A
// broker serves one hub; Hub.Close closes it.
func WithBroker(b Broker) Option { return func(h *Hub) { h.broker = b } }

// New returns a hub, and starts its broker.
func New(opts ...Option) *Hub {
	h := &Hub{seed: maphash.MakeSeed()}
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
func (h *Hub) Publish(ctx context.Context, room string, data []byte, binary bool) error {
	return h.publish(ctx, roomTopic(room), data, binary)
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

// Deliver takes a publication made on another node.
func (d deliverer) Deliver(topic string, p Publication) {
	pm, err := prepare(p.Data, p.Binary)
	if err != nil {
		return // the publishing hub checked it; nothing to send
	}
	d.h.fanout(topic, pm)
}

// DeliverPresence takes a join or leave announced on another node.
func (d deliverer) DeliverPresence(topic string, e PresenceEvent) {}

// Health reports the broker's state and how many publishes reached only
// this node.
func (h *Hub) Health() Health {
	s := h.broker.Health()
	s.FailedPublishes = h.failed.Load()
	return s
}

// Close closes the broker. Local rooms keep working; publishes made after
// Close reach only this node.
func (h *Hub) Close() error { return h.broker.Close() }

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
