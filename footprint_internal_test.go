package tornago

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestHandlerFootprint guards what a WebSocket handler costs an idle
// connection beyond the core's Conn and Session: the user's struct, which
// embeds WebSocketHandler, which is also the session's events (no adapter
// per connection). At 336 bytes, a handler with up to two words of its
// own stays in the allocator's 352-byte class. State that only some
// handlers use (XSRF, the request's header map) is made on first use or
// packed (request_compact.go) rather than kept in these fields; find room
// that way before raising the bound (BENCHMARKS.md, idle memory).
func TestHandlerFootprint(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(WebSocketHandler{}), uintptr(336), "WebSocketHandler")
}
