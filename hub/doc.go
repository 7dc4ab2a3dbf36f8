// Package hub keeps rooms of WebSocket connections and delivers messages to
// them: to a room, to every connection of a user, or to one connection, on
// this process and, through a Broker, on every other process of the
// application. It is what chat and notification servers build on (Tornado
// apps keep a set of "waiters" for it; Socket.IO, Action Cable and Django
// Channels have rooms or groups).
//
//	var rooms = hub.New() // or hub.New(hub.WithBroker(redisbroker.New(client)))
//
//	type ChatSocket struct{ tornago.WebSocketHandler }
//
//	func (s *ChatSocket) Open(args ...string) error {
//		rooms.Join(s.PathKwarg("room"), s)
//		rooms.JoinUser(userID(s), s) // for rooms.SendToUser
//		return nil
//	}
//
//	func (s *ChatSocket) OnMessage(m tornago.Message) error {
//		return rooms.Publish(context.TODO(), s.PathKwarg("room"), m.Data, m.Binary)
//	}
//
//	func (s *ChatSocket) OnClose() { rooms.LeaveAll(s) }
//
// # Delivery
//
// A message is encoded into a WebSocket frame once per process and handed
// to each member (tornago's WritePrepared), which queues it on the
// member's bounded send queue for the connection's flusher to write; it
// never waits for the network. A member that stops reading
// (tornago.Settings.WebSocketSendTimeout) or overflows its own queue is
// closed (1008) and removed; the others are not delayed, and a member
// draining a burst is kept. Members receive one publisher's messages in the order it
// published them, each exactly once, and the members of a room on one
// process all see the same order. Members are removed by LeaveAll
// (call it in OnClose) and also as soon as a write finds them closed.
//
// Rooms and members are spread over 32 locks by hash, so joins and
// publishes on different rooms proceed in parallel. Presence and
// UserConnections count this process's members (ClusterPresence, below,
// lists every process's).
//
// # History and recovery
//
// Plain rooms deliver at most once: what is published while a client
// reconnects is lost to it. A room with history (WithHistory: the last
// Size publications for at most TTL, per room by a rule on its name, off
// by default) numbers its publications with a Position (an epoch and an
// offset that grows by one, shared by all processes) and keeps them in
// the broker. A publish to it is recorded and published in one atomic
// step and reaches every process in offset order; PublishWithPosition
// returns the position, and members receive frames of the wire protocol
// (SinceParam) that carry it. JoinWith, or JoinRooms in a handler's Open,
// joins with the position the client last saw and sends it every
// publication after it, then live ones, with no gap and no duplicate at
// the seam (subscribe and wait, buffer live, read history, merge by
// offset); when it cannot (another epoch, too old, no history, the broker
// unreachable), it says "not recovered" and the client reloads its state.
// js/reconnect.js speaks the protocol for the browser. docs/hub.md has the
// details.
//
// # Presence
//
// JoinOptions.Presence records a member in the broker, on every process:
// ClusterPresence lists a room's entries, members joined with
// WatchPresence receive its joins and leaves, and the entries of a process
// that dies expire within the presence TTL (WithPresenceTTL). A hub with
// presence runs one goroutine that refreshes and removes entries; Close
// stops it.
//
// # Brokers and faults
//
// The default MemoryBroker serves one process (its history is a ring per
// room, lost with the process). The Redis broker
// (github.com/tornago/tornago/hub/redisbroker, a module of its own so that
// the core does not depend on a Redis client) carries publishes between
// processes over Redis pub/sub and keeps history and presence in Redis.
// When the broker loses its backplane, local delivery in plain rooms goes
// on; a publish then reaches only local members and returns an error
// matching ErrLocalOnly (nothing is buffered for later), messages other
// processes publish meanwhile are not received, and Health tells. A
// publish to a room with history fails for everyone instead, with
// ErrNotDelivered (a message history lacks could not be recovered), and a
// rejoin is answered "not recovered". The broker reconnects and
// subscribes again to every room by itself.
package hub
