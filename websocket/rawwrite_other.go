//go:build !unix

package websocket

// writeNowait writes nothing where non-blocking raw writes are
// unavailable: writeBounded then writes everything under a deadline.
func (c *Conn) writeNowait(b []byte) (int, error) { return 0, nil }
