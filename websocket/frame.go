package websocket

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// opcode is the 4-bit frame type of RFC 6455 section 5.2.
type opcode byte

const (
	opContinuation opcode = 0x0
	opText         opcode = 0x1
	opBinary       opcode = 0x2
	opClose        opcode = 0x8
	opPing         opcode = 0x9
	opPong         opcode = 0xA
)

func (op opcode) isControl() bool { return op&0x8 != 0 }

func (op opcode) isData() bool { return op == opText || op == opBinary }

func (op opcode) String() string {
	switch op {
	case opContinuation:
		return "continuation"
	case opText:
		return "text"
	case opBinary:
		return "binary"
	case opClose:
		return "close"
	case opPing:
		return "ping"
	case opPong:
		return "pong"
	}
	return fmt.Sprintf("opcode(%#x)", byte(op))
}

// Bits of the first and second header bytes.
const (
	bitFin  = 0x80
	bitRsv1 = 0x40
	bitRsv2 = 0x20
	bitRsv3 = 0x10
	bitMask = 0x80
)

// maxHeaderSize is the longest possible frame header: 2 fixed bytes, an
// 8-byte extended length and a 4-byte masking key.
const maxHeaderSize = 14

// maxControlPayload is the RFC 6455 section 5.5 limit on control frames.
const maxControlPayload = 125

// header is a decoded frame header. The masking key is held as the four
// bytes read little-endian into a uint32, the form maskBytes consumes.
type header struct {
	fin    bool
	rsv1   bool
	rsv2   bool
	rsv3   bool
	op     opcode
	masked bool
	key    uint32
	length int64
}

// errShortHeader is returned by parseHeader when b holds fewer bytes than the
// header needs; the caller reads more and tries again.
var errShortHeader = errors.New("websocket: short frame header")

// headerSize returns how many bytes the header starting with b0, b1 takes.
func headerSize(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&bitMask != 0 {
		n += 4
	}
	return n
}

// parseHeader decodes the frame header at the start of b and returns it with
// its size. It checks only what the header alone can tell (length encoding);
// the role- and state-dependent rules live in checkHeader.
func parseHeader(b []byte) (h header, n int, err error) {
	if len(b) < 2 {
		return h, 0, errShortHeader
	}
	n = headerSize(b[1])
	if len(b) < n {
		return h, 0, errShortHeader
	}
	h.fin = b[0]&bitFin != 0
	h.rsv1 = b[0]&bitRsv1 != 0
	h.rsv2 = b[0]&bitRsv2 != 0
	h.rsv3 = b[0]&bitRsv3 != 0
	h.op = opcode(b[0] & 0x0f)
	h.masked = b[1]&bitMask != 0
	p := 2
	switch l := b[1] & 0x7f; l {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(b[p:]))
		p += 2
	case 127:
		u := binary.BigEndian.Uint64(b[p:])
		if u>>63 != 0 {
			return h, n, protocolErrorf("frame length has the most significant bit set")
		}
		h.length = int64(u)
		p += 8
	default:
		h.length = int64(l)
	}
	if h.masked {
		h.key = binary.LittleEndian.Uint32(b[p:])
	}
	return h, n, nil
}

// appendHeader encodes h onto dst using the shortest length encoding, as
// RFC 6455 section 5.2 requires ("the minimal number of bytes MUST be used").
func appendHeader(dst []byte, h header) []byte {
	b0 := byte(h.op)
	if h.fin {
		b0 |= bitFin
	}
	if h.rsv1 {
		b0 |= bitRsv1
	}
	if h.rsv2 {
		b0 |= bitRsv2
	}
	if h.rsv3 {
		b0 |= bitRsv3
	}
	var b1 byte
	if h.masked {
		b1 = bitMask
	}
	switch {
	case h.length <= 125:
		dst = append(dst, b0, b1|byte(h.length))
	case h.length <= 0xffff:
		dst = append(dst, b0, b1|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(h.length))
	default:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(h.length))
	}
	if h.masked {
		dst = binary.LittleEndian.AppendUint32(dst, h.key)
	}
	return dst
}
