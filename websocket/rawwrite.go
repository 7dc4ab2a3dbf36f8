package websocket

import (
	"net"
	"time"
)

// writeBounded writes b, all of it or failing, taking at most timeout
// (or less, if the user's write deadline comes first) when the socket
// cannot take it at once. The caller holds lockFrame, or has the
// connection to itself (the 101 response).
//
// Small writes that the kernel takes whole are the common case (a 101
// response, a close frame), and for them setting and then clearing a
// write deadline is most of the cost beyond the system call: two updates
// of the runtime's timer heap. So a plain socket is first written without
// blocking, and the deadline is set only for what it did not take.
func (c *Conn) writeBounded(b []byte, timeout time.Duration) (int, error) {
	n := 0
	if c.rawWritable() {
		var err error
		n, err = c.writeNowait(b)
		if n == len(b) || err != nil {
			return n, err
		}
	}
	c.dlMu.Lock()
	d := time.Now().Add(timeout)
	if user := c.userDeadline(true); !user.IsZero() && user.Before(d) {
		d = user
	}
	c.nc.SetWriteDeadline(d)
	c.dlMu.Unlock()
	m, err := c.nc.Write(b[n:])
	c.dlMu.Lock()
	c.nc.SetWriteDeadline(c.userDeadline(true))
	c.dlMu.Unlock()
	return n + m, err
}

// rawWritable reports whether the connection's file descriptor may be
// written directly: only a plain TCP or Unix socket, since any other
// net.Conn that offers its descriptor (a wrapper embedding one) may hold
// bytes of its own or count what passes.
func (c *Conn) rawWritable() bool {
	if c.raw == nil {
		return false
	}
	switch c.nc.(type) {
	case *net.TCPConn, *net.UnixConn:
		return true
	}
	return false
}
