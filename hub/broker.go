package hub

import (
	"context"
	"time"

	"github.com/tornago/tornago/websocket"
)

// Broker carries a hub's publishes to the hubs of other processes (nodes)
// and brings theirs back. The hub delivers its own publishes to its own
// members directly, so a broker must never hand a node's publish back to
// that node: every member receives a message exactly once.
//
// The hub calls Subscribe when the first member on this node joins a topic
// and Unsubscribe when the last one leaves, while holding a lock of its
// own: both must return at once (record the wish and act on it in the
// background), and a broker that loses its connection must subscribe again
// to every topic by itself when it is back. A topic is the hub's name for
// a room ("room:" + name) or a user ("user:" + id).
type Broker interface {
	// Start is called once, by New, before any other method. The broker
	// calls deliver for each message another node publishes to a topic
	// this node subscribes to, in publish order for each publisher. Calls
	// may overlap for messages of different publishers; deliver does not
	// block (it queues frames on the members' send queues).
	Start(deliver func(topic string, m Message))
	// Subscribe asks for the messages other nodes publish to topic.
	Subscribe(topic string)
	// Unsubscribe stops them.
	Unsubscribe(topic string)
	// Publish sends m to every other node subscribed to topic. It returns
	// an error when it cannot (the backplane is unreachable); it must not
	// buffer without bound, and Publish calls made one after another from
	// one goroutine must reach each node in that order.
	Publish(ctx context.Context, topic string, m Message) error
	// Health reports whether the broker can reach other nodes now.
	Health() Health
	// Close stops the broker and waits for its goroutines.
	Close() error
}

// Message is a published message as it travels between nodes: the core's
// websocket.Message, which is tornago.Message too, so that a handler can
// publish what OnMessage received. Data belongs to the sender: a broker or
// deliver callback must not modify it.
type Message = websocket.Message

// Health is the state of a hub's link to other nodes.
type Health struct {
	// Up reports whether publishes can reach other nodes now. While it is
	// false, local delivery still works, publishes return an error
	// matching ErrLocalOnly, and messages other nodes publish do not
	// arrive here.
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
