package hub

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"

	"github.com/tornago/tornago/websocket"
)

// Rooms and users are both topics, named apart by a prefix; the broker
// sees the same names.
const (
	roomPrefix = "room:"
	userPrefix = "user:"
)

func roomTopic(room string) string { return roomPrefix + room }
func userTopic(user string) string { return userPrefix + user }

// topicShard holds the topics whose names hash to it. Publishing holds the
// read lock while it queues the frame on every member (which never blocks),
// so publishes to different topics run in parallel and joins wait only for
// publishes to topics of the same shard.
type topicShard struct {
	mu     sync.RWMutex
	topics map[string]*topic
	_      [32]byte // keep shards on their own cache lines
}

// topic is one room or user on this node: its members, in a slice for
// fan-out and an index for removal in constant time. Fan-outs to one topic
// take turns (pub), so all its members here see its messages in one order.
//
// A room with history also remembers the last publication it fanned out
// (to see a gap), the members still being recovered (JoinWith), whose
// live publications wait in their recovery's buffer until it ends, and
// the members recovered further than that last publication (history can
// be ahead of the live path), which must not get again what they have;
// all guarded by pub (with the shard's read lock) or the shard's write
// lock.
type topic struct {
	pub        sync.Mutex
	members    []Member
	index      map[Member]int
	last       Position
	recovering map[Member]*recovery
	ahead      map[Member]Position // recovered members sent more than last, and how much
	watchers   map[Member]struct{} // members sent the room's joins and leaves
}

// memberShard holds, for the members that hash to it, the topics each is
// in, so LeaveAll need not search. Its lock is taken before a topic
// shard's, never after.
type memberShard struct {
	mu    sync.Mutex
	rooms map[Member][]string
	_     [48]byte
}

func (h *Hub) topicShard(name string) *topicShard {
	return &h.topics[maphash.String(h.seed, name)%numShards]
}

func (h *Hub) memberShard(m Member) *memberShard {
	return &h.members[maphash.Comparable(h.seed, m)%numShards]
}

// Join adds m to room; messages published to room from now on reach it.
// Joining again does nothing. Call LeaveAll in the handler's OnClose.
// Joining in Open is fine: what is published before the handshake ends is
// sent right after it.
//
// Members on other nodes get messages published here, and the other way
// round, once the broker has subscribed to the room, which it does in the
// background when the room's first member on this node joins.
func (h *Hub) Join(room string, m Member) { h.join(roomTopic(room), m) }

// Leave removes m from room.
func (h *Hub) Leave(room string, m Member) { h.leave(roomTopic(room), m) }

// JoinUser records m as a connection of userID (a browser tab, say), so
// SendToUser reaches it. A member may belong to several users, though
// usually one.
func (h *Hub) JoinUser(userID string, m Member) { h.join(userTopic(userID), m) }

// LeaveUser removes m from userID's connections.
func (h *Hub) LeaveUser(userID string, m Member) { h.leave(userTopic(userID), m) }

// LeaveAll removes m from all its rooms and users, what a handler's
// OnClose does. A member whose write fails because it is closed is removed
// as well, so a missed LeaveAll does not keep it forever.
func (h *Hub) LeaveAll(m Member) {
	ms := h.memberShard(m)
	ms.mu.Lock()
	defer ms.mu.Unlock()
	for _, name := range ms.rooms[m] {
		h.removeLocked(name, m)
	}
	delete(ms.rooms, m)
}

// Rooms returns the rooms m is in on this hub, in the order it joined them.
func (h *Hub) Rooms(m Member) []string {
	ms := h.memberShard(m)
	ms.mu.Lock()
	defer ms.mu.Unlock()
	var rooms []string
	for _, name := range ms.rooms[m] {
		if r, ok := strings.CutPrefix(name, roomPrefix); ok {
			rooms = append(rooms, r)
		}
	}
	return rooms
}

// isMember reports whether m is in topic name.
func (h *Hub) isMember(name string, m Member) bool {
	ms := h.memberShard(m)
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return slices.Contains(ms.rooms[m], name)
}

// Presence returns the number of members of room on this node, without
// asking the broker; ClusterPresence lists the entries of every node.
func (h *Hub) Presence(room string) int { return h.count(roomTopic(room)) }

// UserConnections returns the number of connections of userID on this
// node.
func (h *Hub) UserConnections(userID string) int { return h.count(userTopic(userID)) }

func (h *Hub) count(name string) int {
	ts := h.topicShard(name)
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	if t := ts.topics[name]; t != nil {
		return len(t.members)
	}
	return 0
}

func (h *Hub) join(name string, m Member) { h.joinRecovering(name, m, nil, false) }

// joinRecovering adds m to topic name; with rec set, m starts out being
// recovered: live publications go to rec's buffer; with watch set, it is
// sent the topic's joins and leaves. It reports whether m was not a
// member yet.
func (h *Hub) joinRecovering(name string, m Member, rec *recovery, watch bool) bool {
	ms := h.memberShard(m)
	ms.mu.Lock()
	defer ms.mu.Unlock()
	names := ms.rooms[m]
	if slices.Contains(names, name) {
		return false
	}
	ms.rooms[m] = append(names, name)

	ts := h.topicShard(name)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := ts.topics[name]
	if t == nil {
		t = &topic{index: map[Member]int{}}
		ts.topics[name] = t
		h.broker.Subscribe(name)
	}
	t.index[m] = len(t.members)
	t.members = append(t.members, m)
	if rec != nil {
		if t.recovering == nil {
			t.recovering = map[Member]*recovery{}
		}
		t.recovering[m] = rec
	}
	if watch {
		if t.watchers == nil {
			t.watchers = map[Member]struct{}{}
		}
		t.watchers[m] = struct{}{}
	}
	return true
}

func (h *Hub) leave(name string, m Member) {
	ms := h.memberShard(m)
	ms.mu.Lock()
	defer ms.mu.Unlock()
	names := ms.rooms[m]
	i := slices.Index(names, name)
	if i < 0 {
		return
	}
	if len(names) == 1 {
		delete(ms.rooms, m)
	} else {
		ms.rooms[m] = slices.Delete(names, i, i+1)
	}
	h.removeLocked(name, m)
}

// removeLocked takes m out of topic name; the caller holds m's member
// shard lock.
func (h *Hub) removeLocked(name string, m Member) {
	h.dropPresence(name, m)
	ts := h.topicShard(name)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := ts.topics[name]
	if t == nil {
		return
	}
	i, ok := t.index[m]
	if !ok {
		return
	}
	last := len(t.members) - 1
	if i != last {
		t.members[i] = t.members[last]
		t.index[t.members[i]] = i
	}
	t.members[last] = nil
	t.members = t.members[:last]
	delete(t.index, m)
	delete(t.recovering, m)
	delete(t.ahead, m)
	delete(t.watchers, m)
	if len(t.members) == 0 {
		delete(ts.topics, name)
		h.broker.Unsubscribe(name)
	}
}

// fanout queues pm on every member of topic name on this node, and removes
// the members found closed.
func (h *Hub) fanout(name string, pm *websocket.PreparedMessage) {
	h.withTopic(name, func(t *topic) []Member { return writeAll(t.members, pm, nil) })
}

// withTopic calls f with topic name locked for a fan-out (if the topic has
// members here), then removes the members f found closed.
func (h *Hub) withTopic(name string, f func(t *topic) (closed []Member)) {
	var closed []Member
	ts := h.topicShard(name)
	ts.mu.RLock()
	if t := ts.topics[name]; t != nil {
		t.pub.Lock()
		closed = f(t)
		t.pub.Unlock()
	}
	ts.mu.RUnlock()
	for _, m := range closed {
		h.LeaveAll(m)
	}
}

// writeAll queues pm on every member of ms for which skip (if set) is
// false, and returns those found closed.
func writeAll(ms []Member, pm *websocket.PreparedMessage, skip func(Member) bool) (closed []Member) {
	for _, m := range ms {
		if skip != nil && skip(m) {
			continue
		}
		if err := m.WritePrepared(pm); err != nil && isClosed(err) {
			closed = append(closed, m)
		}
	}
	return closed
}
