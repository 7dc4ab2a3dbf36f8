// Package rawpeer is a WebSocket peer for tests that speaks raw frames over
// TCP: it writes frames byte for byte as a test says (any opcode, RSV bits,
// masking, declared length or fragmentation, or plain bytes) and checks
// every frame that comes back against RFC 6455. It encodes and decodes
// frames itself, from the RFC, and imports nothing of tornago: a peer that
// shared the implementation under test could not catch its bugs.
//
// Dial and Upgrade play a client against a server under test; Accept plays
// a server against a client under test. Request sends a hand-written HTTP
// request, for handshakes a server must refuse.
package rawpeer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Opcode is a frame's opcode (RFC 6455 section 5.2).
type Opcode byte

// The opcodes RFC 6455 defines; the others are reserved.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xa
)

// The flag bits of a frame's first byte, to combine with an opcode:
// FIN|byte(OpText) is a whole text message.
const (
	FIN  byte = 0x80
	RSV1 byte = 0x40
	RSV2 byte = 0x20
	RSV3 byte = 0x10
)

// MaxControlPayload is the longest payload a control frame may carry
// (RFC 6455 section 5.5).
const MaxControlPayload = 125

func (op Opcode) String() string {
	switch op {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return fmt.Sprintf("opcode %#x", byte(op))
}

// IsControl reports whether op is a control opcode (its high bit set),
// defined or reserved.
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

// known reports whether RFC 6455 defines op.
func (op Opcode) known() bool {
	switch op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		return true
	}
	return false
}

// Header is a decoded frame header.
type Header struct {
	Fin, RSV1, RSV2, RSV3 bool
	Op                    Opcode
	Masked                bool
	Key                   [4]byte // the masking key, when Masked
	Length                uint64  // the payload length the header declares
}

// AppendFrame appends a frame with first byte b0 (FIN, RSV1-3 and opcode,
// exactly as sent) to dst. It declares length n, which a test may set
// apart from len(payload) to announce more than will come; the payload
// follows, masked with key when masked.
func AppendFrame(dst []byte, b0 byte, n uint64, masked bool, key [4]byte, payload []byte) []byte {
	var b1 byte
	if masked {
		b1 = 0x80
	}
	switch {
	case n <= 125:
		dst = append(dst, b0, b1|byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, b1|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, n)
	}
	if !masked {
		return append(dst, payload...)
	}
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	Mask(key, dst[start:])
	return dst
}

// Mask applies (or removes) the masking of RFC 6455 section 5.3 in place.
func Mask(key [4]byte, b []byte) {
	for i := range b {
		b[i] ^= key[i%4]
	}
}

// ReadHeader reads one frame header from r (RFC 6455 section 5.2). It
// refuses a 64-bit length with the most significant bit set.
func ReadHeader(r io.Reader) (Header, error) {
	var b [14]byte
	if _, err := io.ReadFull(r, b[:2]); err != nil {
		return Header{}, err
	}
	h := Header{
		Fin: b[0]&FIN != 0, RSV1: b[0]&RSV1 != 0, RSV2: b[0]&RSV2 != 0, RSV3: b[0]&RSV3 != 0,
		Op: Opcode(b[0] & 0xf), Masked: b[1]&0x80 != 0, Length: uint64(b[1] & 0x7f),
	}
	ext := 0
	switch h.Length {
	case 126:
		ext = 2
	case 127:
		ext = 8
	}
	keyLen := 0
	if h.Masked {
		keyLen = 4
	}
	rest := b[2 : 2+ext+keyLen]
	if _, err := io.ReadFull(r, rest); err != nil {
		return h, unexpected(err)
	}
	switch ext {
	case 2:
		h.Length = uint64(binary.BigEndian.Uint16(rest))
	case 8:
		h.Length = binary.BigEndian.Uint64(rest)
		if h.Length>>63 != 0 {
			return h, fmt.Errorf("64-bit payload length %#x has its most significant bit set", h.Length)
		}
	}
	copy(h.Key[:], rest[ext:])
	return h, nil
}

// ReadFrame reads one frame from r and returns its header and unmasked
// payload. It refuses a payload longer than limit before reading it.
func ReadFrame(r io.Reader, limit uint64) (Header, []byte, error) {
	h, err := ReadHeader(r)
	if err != nil {
		return h, nil, err
	}
	if h.Length > limit {
		return h, nil, fmt.Errorf("%d-byte %s frame, over the limit of %d", h.Length, h.Op, limit)
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(r, payload); err != nil {
		return h, nil, fmt.Errorf("reading %d-byte %s payload: %w", h.Length, h.Op, unexpected(err))
	}
	if h.Masked {
		Mask(h.Key, payload)
	}
	return h, payload, nil
}

// unexpected turns the io.EOF of a frame cut short into io.ErrUnexpectedEOF:
// only a stream that ends between frames ends cleanly.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ClosePayload encodes a close frame payload by hand, so that a test can
// send codes and reasons an implementation's own encoder would refuse.
func ClosePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// ParseClose decodes a close frame payload that carries a code, checking
// what RFC 6455 sections 5.5.1 and 7.4 require of it: a code an endpoint
// may send and a UTF-8 reason.
func ParseClose(payload []byte) (code uint16, reason string, err error) {
	if len(payload) < 2 {
		return 0, "", fmt.Errorf("close payload of %d bytes has no code", len(payload))
	}
	code = binary.BigEndian.Uint16(payload)
	if !Sendable(code) {
		return code, "", fmt.Errorf("close code %d may not be sent", code)
	}
	if !utf8.Valid(payload[2:]) {
		return code, "", fmt.Errorf("close reason %q is not UTF-8", payload[2:])
	}
	return code, string(payload[2:]), nil
}

// Sendable reports whether an endpoint may put code in a close frame:
// the codes RFC 6455 section 7.4.1 defines for the wire, those IANA
// registered since (1012-1014), and the ranges for libraries (3000-3999)
// and applications (4000-4999).
func Sendable(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014, code >= 3000 && code <= 4999:
		return true
	}
	return false
}
