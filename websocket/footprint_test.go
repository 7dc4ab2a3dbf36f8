package websocket

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestIdleFootprint guards what an idle connection costs the heap: a Conn
// and a Session, each rounded up to the allocator's size class (640 and
// 384 bytes; an object over 512 bytes that holds pointers carries an
// 8-byte header too, so a Conn must leave 8 bytes of its class free). A field that pushes either into the next class costs every
// idle connection 64–128 bytes more (BENCHMARKS.md, idle memory); find
// room in the padding or make the field lazy before raising these.
func TestIdleFootprint(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(Conn{}), uintptr(640-8), "Conn")
	assert.LessOrEqual(t, unsafe.Sizeof(Session{}), uintptr(384), "Session")
}
