//go:build !unix

package websocket

// rawReadSupported is false: connections keep c.raw nil here, so reads
// take a buffer before they wait and writes go through net.Conn.
const rawReadSupported = false

// idleRead is unused where raw reads are unavailable.
type idleRead struct{}

// readIdle is not used where raw reads are unavailable: c.raw stays nil
// and fillFromIdle takes a buffer before reading.
func (c *Conn) readIdle() (*[readBufferSize]byte, int, error) {
	panic("websocket: readIdle without raw connection support")
}
