package hub

import (
	"context"
	"time"

	"github.com/tornago/tornago/websocket"
)

// Broker carries a hub's publishes to the hubs of other processes (nodes)
// and brings theirs back. The hub delivers its own plain publishes (made
// with Publish, to a topic without history) to its own members directly,
// so a broker must never hand such a publish back to the node that made
// it: every member receives a message exactly once. Publications with a
// position (HistoryBroker.PublishHistory) go the other way: the broker
// delivers them to every subscribed node, the publisher's own included.
//
// The hub calls Subscribe when the first member on this node joins a topic
// and Unsubscribe when the last one leaves, while holding a lock of its
// own: both must return at once (record the wish and act on it in the
// background), and a broker that loses its connection must subscribe again
// to every topic by itself when it is back. A topic is the hub's name for
// a room ("room:" + name) or a user ("user:" + id).
//
// A broker may also implement HistoryBroker (history and recovery) and
// PresenceBroker (presence across nodes); the hub asks for them with a type
// assertion when a room needs them.
type Broker interface {
	// Start is called once, by New, before any other method. The broker
	// hands what other nodes publish to topics this node subscribes to to
	// d: plain messages in publish order for each publisher (calls may
	// overlap for messages of different publishers), publications with a
	// position in offset order for each topic (calls for one topic never
	// overlap; see HistoryBroker). d's methods do not block (they queue
	// frames on the members' send queues) and must not be called while
	// the broker holds a lock that Subscribe or Unsubscribe takes.
	Start(d Deliverer)
	// Subscribe asks for the messages other nodes publish to topic.
	Subscribe(topic string)
	// Unsubscribe stops them.
	Unsubscribe(topic string)
	// Publish sends m to every other node subscribed to topic. It returns
	// an error when it cannot (the backplane is unreachable); it must not
	// buffer without bound, and Publish calls made one after another from
	// one goroutine must reach each node in that order. The receiving
	// nodes get it as a Publication with a zero Position.
	Publish(ctx context.Context, topic string, m Message) error
	// Health reports whether the broker can reach other nodes now.
	Health() Health
	// Close stops the broker and waits for its goroutines.
	Close() error
}

// Deliverer takes what a broker brings to its hub. The hub gives one to
// Broker.Start; a broker never implements it.
type Deliverer interface {
	// Deliver hands over a publication to topic: a plain message from
	// another node (zero Position), or a publication with a position from
	// any node, this one included.
	Deliver(topic string, p Publication)
	// DeliverPresence hands over a join or leave that another node
	// announced with PresenceBroker.PublishPresence.
	DeliverPresence(topic string, e PresenceEvent)
}

// Message is a published message as it travels between nodes: the core's
// websocket.Message, which is tornago.Message too, so that a handler can
// publish what OnMessage received. Data belongs to the sender: a broker or
// deliver callback must not modify it.
type Message = websocket.Message

// Health is the state of a hub's link to other nodes.
type Health struct {
	// Up reports whether publishes can reach other nodes now. While it is
	// false, local delivery still works in rooms without history,
	// publishes return an error matching ErrLocalOnly (ErrNotDelivered in
	// rooms with history, which deliver nothing then), and messages other
	// nodes publish do not arrive here.
	Up bool
	// Since is when Up last changed; zero if it never did.
	Since time.Time
	// Err is why the broker is down, nil when Up.
	Err error
	// Outages counts the times the broker lost its connection.
	Outages int
	// FailedPublishes counts publishes that reached only this node's
	// members (filled in by Hub.Health).
	FailedPublishes uint64
}
