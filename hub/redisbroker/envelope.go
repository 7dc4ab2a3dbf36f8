package redisbroker

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/tornago/tornago/hub"
)

// The payload of a Redis message: a kind byte, a flags byte, the
// publishing node's id, then what the kind says:
//
//   - kindMessage: the message's data (a plain publish);
//   - kindPublication: the offset in decimal, ":", the epoch, ":", then the
//     data (written by the publish script, which knows the position);
//   - kindPresence: a hub.PresenceEvent in JSON;
//   - kindMarker: a random marker of the history script (see
//     Broker.History), for the node that sent it.
//
// A node drops kinds it does not know (with a warning), so an older node
// never mistakes a publication for a plain message.
const (
	kindMessage     = 1
	kindPublication = 2
	kindPresence    = 3
	kindMarker      = 4
	flagBinary      = 1
	nodeIDLen       = 16
	headerLen       = 2 + nodeIDLen
)

// envelope is a decoded payload.
type envelope struct {
	kind     byte
	node     [nodeIDLen]byte
	pub      hub.Publication
	presence hub.PresenceEvent
	marker   string
}

// header returns the first headerLen bytes of a payload.
func header(kind byte, node [nodeIDLen]byte, binary bool) []byte {
	b := make([]byte, headerLen)
	b[0] = kind
	if binary {
		b[1] = flagBinary
	}
	copy(b[2:], node[:])
	return b
}

func encode(node [nodeIDLen]byte, m hub.Message) []byte {
	return append(header(kindMessage, node, m.Binary), m.Data...)
}

func encodePresence(node [nodeIDLen]byte, e hub.PresenceEvent) ([]byte, error) {
	j, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return append(header(kindPresence, node, false), j...), nil
}

func decode(payload string) (e envelope, ok bool) {
	if len(payload) < headerLen {
		return e, false
	}
	e.kind = payload[0]
	copy(e.node[:], payload[2:headerLen])
	e.pub.Binary = payload[1]&flagBinary != 0
	body := []byte(payload[headerLen:])
	switch e.kind {
	case kindMessage:
		e.pub.Data = body
	case kindPublication:
		offset, rest, ok1 := bytes.Cut(body, []byte{':'})
		epoch, data, ok2 := bytes.Cut(rest, []byte{':'})
		n, err := strconv.ParseUint(string(offset), 10, 64)
		if !ok1 || !ok2 || err != nil {
			return e, false
		}
		e.pub.Position = hub.Position{Epoch: string(epoch), Offset: n}
		e.pub.Data = data
	case kindPresence:
		if json.Unmarshal(body, &e.presence) != nil {
			return e, false
		}
	case kindMarker:
		e.marker = string(body)
	default:
		return e, false
	}
	return e, true
}
