package hub

import (
	"context"
	"time"
)

// ClientInfo is one connection present in a room, as presence reports it
// across nodes.
type ClientInfo struct {
	// ClientID names the connection, unique across nodes: the hub makes
	// it from its node's random id and a counter.
	ClientID string `json:"client"`
	// UserID is the application's user of the connection; "" for none.
	UserID string `json:"user,omitempty"`
	// Info is small application data (a display name, say), sent as is;
	// the hub refuses more than MaxPresenceInfo bytes.
	Info []byte `json:"info,omitempty"`
}

// MaxPresenceInfo bounds ClientInfo.Info, which every node stores and
// every presence query returns for every member.
const MaxPresenceInfo = 1024

// PresenceEvent is a join or a leave, as subscribers of a room see it.
type PresenceEvent struct {
	// Leave is set for a leave, clear for a join.
	Leave  bool
	Client ClientInfo
}

// PresenceBroker is a Broker that keeps who is present in each topic
// across nodes, and carries joins and leaves to the other nodes. The hub
// adds an entry when a member joins a room with presence, refreshes the
// entries of its members every ttl/3 while they stay, and removes an entry
// when its member leaves; the entries of a node that dies without
// removing them expire after ttl, so a presence query never reports them
// longer than that (the hub's TTL setting, documented there).
//
// The memory broker keeps the entries in the process (shared by brokers
// made with NewMemoryBrokers, as it would be by nodes); the Redis broker
// keeps them in Redis (a hash of entries and a sorted set of expiry times
// per topic, in the topic's hash slot on a cluster).
type PresenceBroker interface {
	Broker
	// AddPresence records c as present in topic until ttl passes without
	// another AddPresence for c.ClientID (which replaces the entry and
	// its expiry).
	AddPresence(ctx context.Context, topic string, c ClientInfo, ttl time.Duration) error
	// RemovePresence forgets the entry of clientID in topic; removing an
	// entry that is not there is not an error.
	RemovePresence(ctx context.Context, topic string, clientID string) error
	// Presence returns the unexpired entries of topic, in no particular
	// order; none is an empty result, not an error.
	Presence(ctx context.Context, topic string) ([]ClientInfo, error)
	// PublishPresence carries e to every other node subscribed to topic,
	// whose Deliverer gets it through DeliverPresence, as Publish carries
	// a message (not to this node: the hub tells its own members itself;
	// in order with this node's other publishes to topic).
	PublishPresence(ctx context.Context, topic string, e PresenceEvent) error
}
