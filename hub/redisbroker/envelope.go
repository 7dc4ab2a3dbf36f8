package redisbroker

import "github.com/tornago/tornago/hub"

// The payload of a Redis message: a version byte, a flags byte, the
// publishing node's id, then the message's data.
const (
	envelopeVersion = 1
	flagBinary      = 1
	nodeIDLen       = 16
	headerLen       = 2 + nodeIDLen
)

func encode(node [nodeIDLen]byte, m hub.Message) []byte {
	b := make([]byte, headerLen, headerLen+len(m.Data))
	b[0] = envelopeVersion
	if m.Binary {
		b[1] = flagBinary
	}
	copy(b[2:], node[:])
	return append(b, m.Data...)
}

func decode(payload string) (node [nodeIDLen]byte, m hub.Message, ok bool) {
	if len(payload) < headerLen || payload[0] != envelopeVersion {
		return node, m, false
	}
	copy(node[:], payload[2:headerLen])
	m.Binary = payload[1]&flagBinary != 0
	m.Data = []byte(payload[headerLen:])
	return node, m, true
}
