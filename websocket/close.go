package websocket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// StatusCode is a close status code (RFC 6455 section 7.4).
type StatusCode int

// Close status codes. Codes marked "never sent" are reserved for reporting
// a condition locally and must not appear in a close frame.
const (
	StatusNormalClosure           StatusCode = 1000
	StatusGoingAway               StatusCode = 1001
	StatusProtocolError           StatusCode = 1002
	StatusUnsupportedData         StatusCode = 1003
	StatusNoStatusReceived        StatusCode = 1005 // never sent: the close frame had no code
	StatusAbnormalClosure         StatusCode = 1006 // never sent: TCP closed without a close frame
	StatusInvalidFramePayloadData StatusCode = 1007
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009
	StatusMandatoryExtension      StatusCode = 1010
	StatusInternalError           StatusCode = 1011
	StatusServiceRestart          StatusCode = 1012
	StatusTryAgainLater           StatusCode = 1013
	StatusBadGateway              StatusCode = 1014
	StatusTLSHandshake            StatusCode = 1015 // never sent
)

var statusNames = map[StatusCode]string{
	StatusNormalClosure:           "normal closure",
	StatusGoingAway:               "going away",
	StatusProtocolError:           "protocol error",
	StatusUnsupportedData:         "unsupported data",
	StatusNoStatusReceived:        "no status received",
	StatusAbnormalClosure:         "abnormal closure",
	StatusInvalidFramePayloadData: "invalid frame payload data",
	StatusPolicyViolation:         "policy violation",
	StatusMessageTooBig:           "message too big",
	StatusMandatoryExtension:      "mandatory extension",
	StatusInternalError:           "internal error",
	StatusServiceRestart:          "service restart",
	StatusTryAgainLater:           "try again later",
	StatusBadGateway:              "bad gateway",
	StatusTLSHandshake:            "TLS handshake",
}

// String returns the code and its registered name, e.g. "1001 (going away)".
func (c StatusCode) String() string {
	if name, ok := statusNames[c]; ok {
		return strconv.Itoa(int(c)) + " (" + name + ")"
	}
	return strconv.Itoa(int(c))
}

// Valid reports whether c may appear in a close frame on the wire: the codes
// 1000-1003 and 1007-1014 that IANA has assigned, and 3000-4999 for
// libraries, frameworks and applications. Everything else (0-999, 1004-1006,
// 1015, unassigned 1016-2999, 5000 and up) is a protocol error when received.
func (c StatusCode) Valid() bool {
	switch {
	case c >= 1000 && c <= 1003:
		return true
	case c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// maxCloseReason is the longest reason that fits a control frame next to the
// two-byte code.
const maxCloseReason = maxControlPayload - 2

// CloseError reports a close frame received from the peer: the code and
// reason it sent. Code is StatusNoStatusReceived when the frame had no
// payload. Use errors.As to get it from a read error.
type CloseError struct {
	Code   StatusCode
	Reason string
}

// Error describes the peer's close.
func (e *CloseError) Error() string {
	if e.Reason == "" {
		return "websocket: closed by peer: " + e.Code.String()
	}
	return fmt.Sprintf("websocket: closed by peer: %s %q", e.Code, e.Reason)
}

// Is makes errors.Is(err, ErrClosed) true for a peer's close.
func (e *CloseError) Is(target error) bool { return target == ErrClosed }

// ErrClosed is returned by operations on a connection that is closed or
// closing. Every error that ends a connection matches it with errors.Is.
var ErrClosed = errors.New("websocket: connection closed")

// ErrProtocol is matched (errors.Is) by every *ProtocolError.
var ErrProtocol = errors.New("websocket: protocol error")

// ProtocolError reports that the peer broke the protocol or a limit: the
// connection was failed with Code (1002, 1007, 1008 for too many
// fragments, or 1009) and Reason sent to the peer in a close frame, and
// the TCP connection closed.
type ProtocolError struct {
	Code   StatusCode
	Reason string
}

// Error describes the violation.
func (e *ProtocolError) Error() string {
	return fmt.Sprintf("websocket: %s: %s", e.Code, e.Reason)
}

// Is makes errors.Is match ErrProtocol and ErrClosed, and
// ErrMessageTooBig for status 1009.
func (e *ProtocolError) Is(target error) bool {
	switch target {
	case ErrProtocol, ErrClosed:
		return true
	case ErrMessageTooBig:
		return e.Code == StatusMessageTooBig
	}
	return false
}

func protocolErrorf(format string, args ...any) *ProtocolError {
	return &ProtocolError{Code: StatusProtocolError, Reason: fmt.Sprintf(format, args...)}
}

// ErrMessageTooBig is matched by the *ProtocolError a read returns when a
// message exceeds the read limit (status 1009).
var ErrMessageTooBig = errors.New("websocket: message too big")

// parseClosePayload validates a received close frame's payload (RFC 6455
// section 5.5.1): empty, or a valid two-byte code followed by a UTF-8 reason.
func parseClosePayload(p []byte) (*CloseError, error) {
	switch {
	case len(p) == 0:
		return &CloseError{Code: StatusNoStatusReceived}, nil
	case len(p) == 1:
		return nil, protocolErrorf("close frame payload of 1 byte")
	}
	code := StatusCode(binary.BigEndian.Uint16(p))
	if !code.Valid() {
		return nil, protocolErrorf("invalid close code %d", int(code))
	}
	reason := p[2:]
	if !utf8.Valid(reason) {
		return nil, protocolErrorf("close reason is not valid UTF-8")
	}
	return &CloseError{Code: code, Reason: string(reason)}, nil
}

// appendClosePayload encodes code and reason for a close frame. A zero code
// produces an empty payload. The reason is cut at a rune boundary to fit
// the 125-byte control frame limit, and invalid UTF-8 is replaced, so the
// frame we send is always one the peer must accept.
func appendClosePayload(dst []byte, code StatusCode, reason string) []byte {
	if code == 0 {
		return dst
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, truncateReason(reason)...)
}

func truncateReason(reason string) string {
	if !utf8.ValidString(reason) {
		reason = string([]rune(reason)) // replaces invalid bytes with U+FFFD
	}
	if len(reason) <= maxCloseReason {
		return reason
	}
	n := maxCloseReason
	for n > 0 && !utf8.RuneStart(reason[n]) {
		n--
	}
	return reason[:n]
}
