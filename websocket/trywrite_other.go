//go:build !linux

package websocket

// writeNowaitv is writeNowait for a frame in two pieces, its header and
// payload: one write of each where writev(2) is not used. Both must be
// non-empty.
func (c *Conn) writeNowaitv(hdr, payload []byte) (int, error) {
	n, err := c.writeNowait(hdr)
	if err != nil || n < len(hdr) {
		return n, err
	}
	m, err := c.writeNowait(payload)
	return n + m, err
}
