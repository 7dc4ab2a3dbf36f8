package hub

import (
	"context"
	"errors"
	"fmt"
	"net/url"
)

// JoinOptions says how JoinWith joins a room.
type JoinOptions struct {
	// Since is the position of the last publication the member's client
	// received in the room (from SinceFromQuery), to be sent every one
	// after it; the zero Position asks for no recovery.
	Since Position
	// Presence, if set, records the member in the room's presence on
	// every node (ClusterPresence) until it leaves, and announces its join
	// and leave to the room's watchers. An empty ClientID is filled in
	// with one unique across nodes. The broker must be a PresenceBroker.
	Presence *ClientInfo
	// WatchPresence sends the member the wire protocol's "join" and
	// "leave" frames of the other members with presence in the room.
	WatchPresence bool
}

// JoinResult is how a JoinWith went.
type JoinResult struct {
	// Position is the room's position once the member joined (the last
	// publication sent to it, or the top of the room's history): what its
	// client keeps to recover from next time. Zero for a room without
	// history, or when the broker could not be asked.
	Position Position
	// Asked reports whether the join asked for recovery (Since was set).
	Asked bool
	// Recovered reports whether every publication after Since was sent to
	// the member, in order, before any live one.
	Recovered bool
	// Missed counts the publications sent from history.
	Missed int
	// Err is why the member could not be recovered when Asked and not
	// Recovered: it matches ErrUnrecoverable when the position is too old,
	// of another epoch, or the room keeps no history; otherwise it is the
	// broker's error (it could not be sure).
	Err error
	// Client is the member's presence entry, its ClientID filled in, when
	// JoinOptions.Presence was set.
	Client ClientInfo
	// PresenceErr is why the presence entry could not be recorded or
	// announced (the member is in the room all the same, and the entry is
	// retried at the next refresh).
	PresenceErr error
}

// recovery is a member being recovered: the live publications it is sent
// once its history is, at most bound of them.
type recovery struct {
	buf      []Publication
	bound    int
	overflow bool
}

func (r *recovery) add(p Publication) {
	if len(r.buf) >= r.bound {
		r.overflow = true
		return
	}
	r.buf = append(r.buf, p)
}

// errHistoryOff is why a join to a room without history is not recovered.
var errHistoryOff = fmt.Errorf("%w: the room keeps no history", ErrUnrecoverable)

// JoinWith adds m to room as Join does and, in a room with history
// (WithHistory), sends m the wire protocol's "joined" frame with the
// room's position, preceded by every publication after o.Since that m's
// client missed, when it asks for them. Live publications made meanwhile
// wait for the recovered ones, so m gets each publication once, in order,
// with no gap: the room's subscription is made first (and waited for),
// then history is read, and the live publications buffered since the
// join are sent after it, those history already had left out.
//
// When the publications cannot all be sent (o.Since is of another epoch
// or too old, the room keeps no history, or the broker cannot be reached
// in time) the result says so (Recovered false, Err why), the "joined"
// frame carries "recovered": false, and m stays in the room and gets the
// live publications: its client must rebuild its state (reload). A
// publication buffered beyond the room's history Size during recovery
// also ends it so.
//
// ctx bounds the wait for the broker (the handler's request context with
// a timeout, say). A member already in room is left as it is, with a
// result that says it was not recovered. In a room without history and
// without o.Since, JoinWith is Join and sends nothing.
func (h *Hub) JoinWith(ctx context.Context, room string, m Member, o JoinOptions) JoinResult {
	topic := roomTopic(room)
	res := JoinResult{Asked: !o.Since.IsZero()}
	if !h.joinRecover(ctx, topic, room, m, o, &res) {
		res.Err = errors.New("hub: already a member of the room")
		return res
	}
	if o.Presence != nil {
		res.Client, res.PresenceErr = h.addPresence(ctx, topic, room, m, *o.Presence)
	}
	return res
}

// joinRecover is JoinWith's join and recovery; it reports whether m
// joined (was not a member already).
func (h *Hub) joinRecover(ctx context.Context, topic, room string, m Member, o JoinOptions, res *JoinResult) bool {
	policy := h.policy(room)
	hb, ok := h.broker.(HistoryBroker)
	if !policy.Enabled() || !ok {
		if !h.joinRecovering(topic, m, nil, o.WatchPresence) {
			return false
		}
		if res.Asked {
			res.Err = errHistoryOff
			_ = h.SendTo(m, joinedFrame(room, *res), false) // a closed m has left its rooms
		}
		return true
	}
	rec := &recovery{bound: policy.Size}
	if !h.joinRecovering(topic, m, rec, o.WatchPresence) {
		return false
	}
	pubs, top, err := readHistory(ctx, hb, topic, o.Since, policy)
	h.finishRecovery(topic, room, m, rec, o.Since, pubs, top, err, res)
	return true
}

// readHistory waits for the subscription to topic, then reads its history
// since since.
func readHistory(ctx context.Context, hb HistoryBroker, topic string, since Position, policy HistoryPolicy) ([]Publication, Position, error) {
	if err := hb.WaitSubscribed(ctx, topic); err != nil {
		return nil, Position{}, fmt.Errorf("hub: subscribing to %s: %w", topic, err)
	}
	pubs, top, err := hb.History(ctx, topic, since, policy)
	if err != nil {
		return nil, top, fmt.Errorf("hub: reading the history of %s: %w", topic, err)
	}
	return pubs, top, nil
}

// finishRecovery sends m what it missed, the "joined" frame, and what was
// buffered for it meanwhile, then makes it a live member, all under the
// topic's fan-out lock so that no live publication slips in between.
func (h *Hub) finishRecovery(name, room string, m Member, rec *recovery, since Position, pubs []Publication, top Position, herr error, res *JoinResult) {
	left := true
	h.withTopic(name, func(t *topic) []Member {
		if t.recovering[m] != rec {
			return nil // m left (or was closed) meanwhile
		}
		left = false
		delete(t.recovering, m)
		sent := top
		var history [][]byte
		if herr == nil && res.Asked {
			sent = since
			for _, p := range pubs {
				if p.Position.Offset > sent.Offset {
					history = append(history, pubFrame(room, p))
					sent = p.Position
				}
			}
			res.Missed = len(history)
		}
		lost := herr
		if lost == nil && rec.overflow {
			lost = fmt.Errorf("%w: more than %d publications arrived during the recovery", ErrUnrecoverable, rec.bound)
		}
		atJoin := sent
		live, sent, lost := sequence(room, rec.buf, sent, lost)
		if last := t.last; !sent.IsZero() && (last.Epoch != sent.Epoch || sent.Offset > last.Offset) {
			// History was ahead of the live path: the publications up to
			// sent may still arrive here, and m has them.
			if t.ahead == nil {
				t.ahead = map[Member]Position{}
			}
			t.ahead[m] = sent
		}
		res.Err = lost
		res.Recovered = res.Asked && lost == nil
		// "joined" goes between history and live, with the position there.
		res.Position = atJoin
		joined := joinedFrame(room, *res)
		res.Position = sent
		return h.writeRecovery(m, history, joined, live)
	})
	if left && res.Err == nil {
		res.Err = errors.New("hub: the member left during the join")
	}
}

// sequence returns the frames of the publications of buf that follow sent
// (those history already held are left out), the position of the last,
// and lost, or why publications were lost between them if they do not
// follow one another.
func sequence(room string, buf []Publication, sent Position, lost error) ([][]byte, Position, error) {
	var frames [][]byte
	for _, p := range buf {
		pos := p.Position
		switch {
		case sent.IsZero():
		case pos.Epoch != sent.Epoch:
			if lost == nil {
				lost = fmt.Errorf("%w: the stream started epoch %q", ErrUnrecoverable, pos.Epoch)
			}
		case pos.Offset <= sent.Offset:
			continue
		case pos.Offset != sent.Offset+1 && lost == nil:
			lost = fmt.Errorf("%w: offsets %d to %d were missed", ErrUnrecoverable, sent.Offset+1, pos.Offset-1)
		}
		frames = append(frames, pubFrame(room, p))
		sent = pos
	}
	return frames, sent, lost
}

// writeRecovery writes a recovering member's frames in order: history,
// "joined", live. It returns m if m is closed.
func (h *Hub) writeRecovery(m Member, history [][]byte, joined []byte, live [][]byte) []Member {
	for _, group := range [][][]byte{history, {joined}, live} {
		for _, f := range group {
			pm, err := prepare(f, false)
			if err != nil {
				continue // a wire frame is valid JSON text
			}
			if err := m.WritePrepared(pm); err != nil && isClosed(err) {
				return []Member{m}
			}
		}
	}
	return nil
}

// fanoutHistory delivers a publication of a room with history to the
// room's members here, in a frame encoded once; members being recovered
// get it later, from their buffer. A publication that does not follow the
// last one (a gap, or a new epoch: this node missed some, as when its
// broker lost its connection) is preceded by a "gap" frame, the live
// members' cue that they missed publications and must rebuild their state.
func (h *Hub) fanoutHistory(name, room string, p Publication) {
	pm, err := prepare(pubFrame(room, p), false)
	if err != nil {
		return
	}
	h.withTopic(name, func(t *topic) []Member {
		last := t.last
		if last.Epoch == p.Position.Epoch && p.Position.Offset <= last.Offset {
			return nil // delivered already
		}
		t.last = p.Position
		for _, r := range t.recovering {
			r.add(p)
		}
		for m, pos := range t.ahead {
			if pos.Epoch != p.Position.Epoch || pos.Offset < p.Position.Offset {
				delete(t.ahead, m) // caught up: p is new to m
			}
		}
		var skip func(Member) bool
		if len(t.recovering) > 0 || len(t.ahead) > 0 {
			skip = func(m Member) bool {
				_, recovering := t.recovering[m]
				_, ahead := t.ahead[m]
				return recovering || ahead
			}
		}
		var closed []Member
		if !last.IsZero() && (last.Epoch != p.Position.Epoch || p.Position.Offset != last.Offset+1) {
			gap := gapFrame(room, last, p.Position)
			if g, err := prepare(gap, false); err == nil {
				closed = writeAll(t.members, g, skip)
			}
		}
		return append(closed, writeAll(t.members, pm, skip)...)
	})
}

// ErrBadSince is matched by the error of JoinRooms when the page's
// SinceParam is malformed; a handler answers it with 400.
var ErrBadSince = errors.New("hub: malformed " + SinceParam)

// JoinRooms is the handler's side of the wire protocol, for its Open: it
// joins m to each of rooms with JoinWith and o, recovering each from the
// position that the page sent for it in q (the request's query,
// SinceFromQuery; o.Since is ignored), and returns the results in the
// order of rooms. A malformed SinceParam joins nothing and returns an
// error matching ErrBadSince. Positions sent for rooms not named are
// ignored.
//
//	func (s *Socket) Open(args ...string) error {
//		ctx, cancel := context.WithTimeout(s.Request().Context(), 5*time.Second)
//		defer cancel()
//		_, err := rooms.JoinRooms(ctx, s.Request().URL.Query(), s, hub.JoinOptions{}, "news")
//		if errors.Is(err, hub.ErrBadSince) {
//			return tornago.HTTPError{Code: http.StatusBadRequest}
//		}
//		return err
//	}
func (h *Hub) JoinRooms(ctx context.Context, q url.Values, m Member, o JoinOptions, rooms ...string) ([]JoinResult, error) {
	since, err := SinceFromQuery(q)
	if err != nil {
		return nil, err
	}
	results := make([]JoinResult, len(rooms))
	for i, room := range rooms {
		o.Since = since[room]
		results[i] = h.JoinWith(ctx, room, m, o)
	}
	return results, nil
}
