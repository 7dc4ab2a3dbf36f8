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
// UserConnections count this process's members.
//
// # Brokers and faults
//
// The default MemoryBroker serves one process. The Redis broker
// (github.com/tornago/tornago/hub/redisbroker, a module of its own so that
// the core does not depend on a Redis client) carries publishes between
// processes over Redis pub/sub. When the broker loses its backplane, local
// delivery goes on; a publish then reaches only local members and returns
// an error matching ErrLocalOnly (nothing is buffered for later), messages
// other processes publish meanwhile are not received, and Health tells.
// The broker reconnects and subscribes again to every room by itself.
package hub
