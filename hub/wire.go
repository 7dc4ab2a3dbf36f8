package hub

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"unicode/utf8"
)

// The wire protocol between the hub and a page (js/reconnect.js speaks
// it; docs/websocket.md describes it): the members of a room with history
// receive JSON text frames whose first key is "tornago", so a client can
// tell them from the application's own messages by their first bytes.
//
//	{"tornago":"pub","room":R,"epoch":E,"offset":N,"data":TEXT}   a publication (binary ones: "b64" instead of "data")
//	{"tornago":"joined","room":R,"epoch":E,"offset":N,"recovered":B,"reason":S}
//	{"tornago":"gap","room":R,"epoch":E,"offset":N,"recovered":false,"reason":S}
//	{"tornago":"join","room":R,"client":{"client":ID,"user":U,"info":I}}   presence (and "leave")
//
// "joined" ends a JoinWith: the publications it recovered come before it,
// live ones after it, and E:N is the position to keep (the room's top).
// "recovered" is there only when the join asked for recovery: true when
// every publication since the position was sent, false (with a reason)
// when the page must rebuild its state instead. A page that reconnects
// "gap" tells live members that publications after E:N did not reach this
// node (its broker lost its connection): they must rebuild their state too.
// A page that reconnects sends the positions it keeps in the URL's
// SinceParam query parameter.

// SinceParam is the query parameter in which a reconnecting page sends
// the last position it saw in each room: a JSON object of room name to
// {"epoch": E, "offset": N}.
const SinceParam = "tornago_since"

// MaxSinceRooms bounds the rooms of one SinceParam.
const MaxSinceRooms = 100

type wirePub struct {
	Tornago string `json:"tornago"`
	Room    string `json:"room"`
	Epoch   string `json:"epoch"`
	Offset  uint64 `json:"offset"`
	Data    string `json:"data,omitempty"`
	B64     string `json:"b64,omitempty"`
}

type wireJoined struct {
	Tornago   string `json:"tornago"`
	Room      string `json:"room"`
	Epoch     string `json:"epoch"`
	Offset    uint64 `json:"offset"`
	Recovered *bool  `json:"recovered,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

type wirePresence struct {
	Tornago string     `json:"tornago"`
	Room    string     `json:"room"`
	Client  ClientInfo `json:"client"`
}

// wirePosition is a position in SinceParam.
type wirePosition struct {
	Epoch  string `json:"epoch"`
	Offset uint64 `json:"offset"`
}

// pubFrame encodes the frame of a publication to room, once per node.
func pubFrame(room string, p Publication) []byte {
	w := wirePub{Tornago: "pub", Room: room, Epoch: p.Position.Epoch, Offset: p.Position.Offset}
	if p.Binary {
		w.B64 = base64.StdEncoding.EncodeToString(p.Data)
	} else {
		w.Data = string(p.Data)
	}
	return mustJSON(w)
}

// joinedFrame encodes the frame that ends a JoinWith.
func joinedFrame(room string, r JoinResult) []byte {
	w := wireJoined{Tornago: "joined", Room: room, Epoch: r.Position.Epoch, Offset: r.Position.Offset}
	if r.Asked {
		w.Recovered = &r.Recovered
		if r.Err != nil {
			w.Reason = r.Err.Error()
		}
	}
	return mustJSON(w)
}

// gapFrame encodes the cue that live members of room missed the
// publications after last, the room being at next.
func gapFrame(room string, last, next Position) []byte {
	no := false
	reason := fmt.Sprintf("publications after %s did not reach this process (the room is at %s)", last, next)
	return mustJSON(wireJoined{Tornago: "gap", Room: room, Epoch: last.Epoch, Offset: last.Offset, Recovered: &no, Reason: reason})
}

// presenceFrame encodes a join or leave.
func presenceFrame(room string, e PresenceEvent) []byte {
	kind := "join"
	if e.Leave {
		kind = "leave"
	}
	return mustJSON(wirePresence{Tornago: kind, Room: room, Client: e.Client})
}

// mustJSON marshals a wire struct, which cannot fail: strings and
// numbers only (Info is []byte, base64 in JSON).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("hub: encoding a wire frame: %v", err))
	}
	return b
}

// SinceFromQuery reads the positions a reconnecting page sent in the
// SinceParam query parameter of q: for each room, the position to recover
// from. No parameter gives an empty map and no error; a malformed one (not
// a JSON object of {"epoch","offset"}, more than MaxSinceRooms rooms, an
// empty epoch) gives an error matching ErrBadSince, which a handler
// answers with 400.
func SinceFromQuery(q url.Values) (map[string]Position, error) {
	raw := q.Get(SinceParam)
	since := map[string]Position{}
	if raw == "" {
		return since, nil
	}
	var w map[string]wirePosition
	if err := json.Unmarshal([]byte(raw), &w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSince, err)
	}
	if len(w) > MaxSinceRooms {
		return nil, fmt.Errorf("%w: %d rooms, at most %d", ErrBadSince, len(w), MaxSinceRooms)
	}
	for room, p := range w {
		if p.Epoch == "" || !utf8.ValidString(p.Epoch) {
			return nil, fmt.Errorf("%w: room %q has no epoch", ErrBadSince, room)
		}
		since[room] = Position(p)
	}
	return since, nil
}
