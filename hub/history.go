package hub

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Position is a place in a topic's history: the stream's epoch and the
// offset of a publication in it. The zero Position means "no position": a
// publication to a topic without history has it, and joining with it asks
// for no recovery.
type Position struct {
	// Epoch names one life of the stream. The broker picks a new one
	// (random, unique in practice) whenever it starts a stream with no
	// past: the first publish, or after the history was lost (Redis
	// flushed or restarted without persistence, the stream expired, the
	// process restarted). Offsets of different epochs are not comparable.
	Epoch string
	// Offset counts the stream's publications: the first of an epoch has
	// offset 1 and each next one exactly one more, so that a receiver
	// can tell a gap. The offset of a stream (its "top") is that of its
	// last publication, 0 before any.
	Offset uint64
}

// IsZero reports whether p is the zero Position.
func (p Position) IsZero() bool { return p == Position{} }

// String formats p as "epoch:offset", the form the wire protocol uses.
func (p Position) String() string { return fmt.Sprintf("%s:%d", p.Epoch, p.Offset) }

// Publication is a message with its position in its topic's history; the
// Position is zero for a topic without history.
type Publication struct {
	Message
	Position Position
}

// HistoryPolicy is how much of a room's past its stream keeps. The zero
// value keeps nothing: the room has no history, as every room has unless
// WithHistory says otherwise.
type HistoryPolicy struct {
	// Size is how many of the latest publications are kept; 0 (or less)
	// turns history off.
	Size int
	// TTL is how long a publication is kept; 0 (or less) keeps it until
	// Size pushes it out. A stream with no publish for TTL may be removed
	// whole (Redis: the list expires).
	TTL time.Duration
	// MetaTTL is how long the stream's epoch and top offset are kept after
	// its last publish, so that a client of a quiet room, whose
	// publications expired, still learns it missed nothing; 0 (or less)
	// means DefaultHistoryMetaTTL, and it is never shorter than TTL. When
	// it passes, the stream starts a new epoch.
	MetaTTL time.Duration
}

// DefaultHistoryMetaTTL is HistoryPolicy.MetaTTL's default.
const DefaultHistoryMetaTTL = 24 * time.Hour

// Enabled reports whether the policy keeps any history.
func (p HistoryPolicy) Enabled() bool { return p.Size > 0 }

// EffectiveMetaTTL is MetaTTL with its default applied and raised to at
// least TTL: how long a broker must keep the stream's epoch and top.
func (p HistoryPolicy) EffectiveMetaTTL() time.Duration {
	meta := p.MetaTTL
	if meta <= 0 {
		meta = DefaultHistoryMetaTTL
	}
	return max(meta, p.TTL)
}

// ErrUnrecoverable is matched (errors.Is) by the error of a history read
// that cannot return every publication after the position asked for: the
// position is of another epoch (the stream was lost and started again),
// some publications after it are no longer kept (Size or TTL pushed them
// out), or it is beyond the stream's top (a position the stream never
// had). The caller must then rebuild its state some other way (the
// client reloads). A topic without history at all is reported the same.
var ErrUnrecoverable = errors.New("hub: publications since that position are no longer available")

// ErrNotDelivered is matched by the error of a publish to a room with
// history that the broker could not record (the backplane is down, or the
// broker keeps no history): nobody, on this node or any other, received
// it. Unlike ErrLocalOnly, there is no local-only delivery for such rooms,
// since a message that history lacks could not be recovered by a member
// that reconnects.
var ErrNotDelivered = errors.New("hub: not published")

// HistoryBroker is a Broker that keeps, for each topic published with a
// HistoryPolicy, a stream of the latest publications, so that a member
// that rejoins with the position of the last publication it received can
// be sent those it missed, on any node. The in-memory broker keeps a ring
// per topic; the Redis broker keeps the stream in Redis.
//
// A topic's publications with positions must reach the deliverers of all
// subscribed nodes in offset order, each exactly once while the node
// stays subscribed (the hub fills gaps from History when a connection
// loss made it miss some: it sees the offset jump). The hub uses either
// Publish or PublishHistory for a topic, never both, and the same policy
// each time (WithHistory's rule is a function of the room's name).
type HistoryBroker interface {
	Broker
	// PublishHistory appends m to topic's stream and publishes it, in one
	// atomic step (Redis: one Lua script or MULTI), so that no node
	// receives a publication that History lacks and offsets follow the
	// order in which nodes receive them. It assigns the next offset of
	// the stream (cluster-wide: all nodes publishing to topic share one
	// counter), starting a new epoch if the stream has none (first use,
	// or its epoch and top expired or were lost), trims the stream to
	// policy.Size and policy.TTL, and keeps the epoch and top for
	// policy.EffectiveMetaTTL after this publish. It returns the
	// publication's position.
	//
	// Unlike Publish, the publication is delivered to every node
	// subscribed to topic, this one included: the hub does not deliver
	// it locally by itself, so its members get it in offset order with
	// everyone else's. It fails without delivering anything (the error
	// wrapped by the hub into ErrNotDelivered) when the broker cannot
	// record it; it must not report success for a publication that is not
	// in the stream.
	PublishHistory(ctx context.Context, topic string, m Message, policy HistoryPolicy) (Position, error)
	// History returns topic's publications after since, oldest first,
	// and the stream's current top (its epoch and last offset). A stream
	// without an epoch gets one here, as PublishHistory would give it,
	// with top offset 0 and policy's meta TTL, so that a position taken
	// now stays valid for the first publication: a member that joins an
	// empty room and loses its connection before the first publish
	// recovers it.
	//
	// With a zero since it returns no publications, only the top: what a
	// member that joins without a position needs. Otherwise it returns
	// every publication with offset > since.Offset, in order, with no
	// gap, or an error matching ErrUnrecoverable (and no publications)
	// when it cannot: since.Epoch differs from the stream's, since.Offset
	// is above the top, or the oldest publication kept has an offset
	// above since.Offset+1. When since is the top, it returns none and
	// no error. It returns any other error (the backplane is down) as is;
	// the hub then tells the member "not recovered". Publications up to
	// the top may still reach this node's Deliverer after History
	// returns (the subscription lags behind the read); the hub does not
	// send them twice, though a broker may also wait for them (the Redis
	// broker does).
	History(ctx context.Context, topic string, since Position, policy HistoryPolicy) ([]Publication, Position, error)
	// WaitSubscribed blocks until the subscription that Subscribe(topic)
	// asked for is in effect, so that every publication to topic that
	// PublishHistory makes from then on, on any node, reaches this node's
	// Deliverer; the hub calls it before History when a member joins with
	// a position, so that the publications it reads and those it receives
	// leave no gap between them. It returns an error when ctx ends first,
	// the topic is not subscribed (Unsubscribe came after), or the broker
	// is down; a broker that subscribes synchronously returns nil at once.
	WaitSubscribed(ctx context.Context, topic string) error
}
