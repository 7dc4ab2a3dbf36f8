package websocket

import (
	"log/slog"
	"strconv"
	"time"
)

// MessageType is the type of a data message: text (UTF-8) or binary.
type MessageType int

// The two data message types of RFC 6455 section 5.6.
const (
	TextMessage   MessageType = 1
	BinaryMessage MessageType = 2
)

// String returns "text" or "binary".
func (t MessageType) String() string {
	switch t {
	case TextMessage:
		return "text"
	case BinaryMessage:
		return "binary"
	}
	return "MessageType(" + strconv.Itoa(int(t)) + ")"
}

func (t MessageType) opcode() (opcode, bool) {
	switch t {
	case TextMessage:
		return opText, true
	case BinaryMessage:
		return opBinary, true
	}
	return 0, false
}

// Defaults for ConnOptions.
const (
	// DefaultReadLimit is the largest message a Conn reads unless
	// ConnOptions.ReadLimit says otherwise: 10 MiB, Tornado's
	// websocket_max_message_size.
	DefaultReadLimit = 10 << 20
	// DefaultCloseTimeout is how long Close waits for the peer's close frame
	// (and a client for the server's TCP close) before dropping TCP.
	DefaultCloseTimeout = 5 * time.Second
	// DefaultHandshakeTimeout bounds Dial's opening handshake.
	DefaultHandshakeTimeout = 30 * time.Second
	// MinDefaultMaxFragments is the least the default fragment limit
	// (ConnOptions.MaxFragments) allows, however small the read limit.
	MinDefaultMaxFragments = 1024
)

// ConnOptions configures a connection in either role. The zero value
// gives the defaults.
type ConnOptions struct {
	// ReadLimit is the largest message, in bytes, that a read accepts; a
	// larger one fails the connection with 1009 before its payload is
	// read. Zero means DefaultReadLimit, a negative value no limit.
	ReadLimit int64
	// MaxFragments is the most frames a data message may span; a frame
	// beyond it fails the connection with 1008 (policy violation). The
	// read limit counts bytes, so without it a peer could keep a message
	// open forever with empty continuation frames. Zero means one frame
	// per 64 bytes of the read limit, and at least MinDefaultMaxFragments:
	// 163,840 with the default 10 MiB. That lets a writer that fragments
	// every 64 bytes (the finest Autobahn's fragmentation cases 9.5 and
	// 9.6 use; ours and gorilla's fragment every 4 KiB, browsers not at
	// all) send the largest message the limit allows, while the headers
	// of a message stay within about a tenth of the limit. A negative
	// value, or zero with no read limit, means no limit.
	MaxFragments int64
	// CloseTimeout is how long Close waits for the closing handshake to
	// finish before dropping TCP. Zero means DefaultCloseTimeout.
	CloseTimeout time.Duration
	// OnPing, when set, is called on the reading goroutine with the payload
	// of each ping, after the pong has been sent.
	OnPing func(payload []byte)
	// OnPong, when set, is called on the reading goroutine with the payload
	// of each pong.
	OnPong func(payload []byte)
	// Logger receives debug records about failed connections. Nil means no
	// logging.
	Logger *slog.Logger
}

func (o *ConnOptions) readLimit() int64 {
	switch {
	case o.ReadLimit == 0:
		return DefaultReadLimit
	case o.ReadLimit < 0:
		return -1
	}
	return o.ReadLimit
}

// maxFragments returns the fragment limit, 0 when it follows the read
// limit (Conn.fragmentLimit), -1 for none.
func (o *ConnOptions) maxFragments() int64 {
	if o.MaxFragments < 0 {
		return -1
	}
	return o.MaxFragments
}

func (o *ConnOptions) closeTimeout() time.Duration {
	if o.CloseTimeout <= 0 {
		return DefaultCloseTimeout
	}
	return o.CloseTimeout
}
