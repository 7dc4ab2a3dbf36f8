package websocket

import "net"

// How a connection's TCP ends. Every path that ends a connection (Close,
// Abort, CloseNow, a protocol error, a failed write, the peer's close)
// goes through closeTCP, which picks one of two endings:
//
//   - Graceful, the rule: the write side is shut first (a FIN goes out
//     behind every byte written, our close frame included), input already
//     received is drained, and then the socket is closed. Closing a
//     socket with unread input makes the kernel answer with a reset
//     instead of a FIN, and a reset can make the peer's kernel drop bytes
//     it has not handed to the application yet: the close frame the peer
//     was about to read. So a close frame that was written reaches the
//     peer, whoever ends the connection and however abruptly.
//
//   - Discarding, only when the peer is known to have stopped taking our
//     bytes: a write to it gave up on a deadline (its receive window and
//     our send buffer are full: a write deadline, Abort's bound on its
//     close frame), or the kernel holds bytes it could not send (Linux
//     reports this; see unsentBytes) when the closing handshake timed out
//     or CloseNow finds a write blocked. A graceful close would then leave
//     the socket to the kernel, holding its unsent bytes (most of a
//     megabyte) for minutes while it probes a window that never opens;
//     with SO_LINGER set to zero the close discards them and resets the
//     connection, releasing everything at once. The close frame is lost,
//     but a peer that does not read would never have seen it. Unsent
//     bytes alone are no proof: right after a write they are normal for a
//     peer that reads more slowly than we write, so they count only after
//     the peer has had its time (the close timeout) or with a write stuck.
type tcpEnding int

const (
	endGraceful   tcpEnding = iota // FIN behind what was written, input drained
	endDiscarding                  // SO_LINGER 0: unsent bytes dropped, a reset sent
)

// endingAfter picks the ending for a connection whose last write returned
// writeErr (nil if it succeeded or none was made): discarding if that
// write gave up on a deadline.
func endingAfter(writeErr error) tcpEnding {
	if writeErr != nil && isTimeout(writeErr) {
		return endDiscarding
	}
	return endGraceful
}

// endingIfUnsent is discarding if the kernel holds bytes it could not
// send, for a peer that has had its time to take them.
func (c *Conn) endingIfUnsent() tcpEnding {
	if c.unsentBytes() > 0 {
		return endDiscarding
	}
	return endGraceful
}

// endTCP ends the network connection as ending says; closeTCP calls it
// once.
func (c *Conn) endTCP(ending tcpEnding) {
	if ending == endDiscarding {
		if tc := tcpConnOf(c.nc); tc != nil {
			tc.SetLinger(0)
		}
		c.nc.Close()
		return
	}
	if c.peerClose.Load() == nil {
		// The peer may still be sending: the FIN tells it we are done,
		// and what it sent is drained. A peer whose close frame we read
		// has sent its last byte (RFC 6455 section 5.5.1): the close
		// below sends the same FIN behind our writes, without the two
		// system calls, which were a tenth of a reconnecting client's cost.
		c.halfClose()
		if c.raw != nil {
			drainReceived(c.raw)
		}
	}
	c.nc.Close()
}

// halfClose shuts the write side, once: the peer gets a FIN behind the
// bytes already written, and reading goes on. It reports whether the
// write side is shut (a connection without CloseWrite cannot be).
func (c *Conn) halfClose() bool {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok {
		return false
	}
	switch c.nc.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		// A wrapper's CloseWrite may write (TLS sends close_notify) and
		// would wait behind a write in flight, perhaps for ever; it is
		// called only while no write of ours is, and none can start.
		if !c.locks.tryLock(lockFrame) {
			return false
		}
		defer c.locks.unlock(lockFrame)
	}
	if c.flags.set(flagHalfClosed) {
		cw.CloseWrite()
	}
	return true
}

// maxDrainAtClose bounds the received bytes a close reads and drops, so
// that a peer flooding the connection cannot hold the closing goroutine;
// the kernel then resets a connection that still has unread input.
const maxDrainAtClose = 1 << 20

// tcpConnOf returns the TCP connection under nc (a *net.TCPConn, or the
// one under a wrapper such as *tls.Conn that offers NetConn), or nil.
func tcpConnOf(nc net.Conn) *net.TCPConn {
	for {
		switch t := nc.(type) {
		case *net.TCPConn:
			return t
		case interface{ NetConn() net.Conn }:
			nc = t.NetConn()
		default:
			return nil
		}
	}
}

// unsentBytes returns how many bytes written to the connection the kernel
// holds because the peer has not acknowledged them (it could not send
// them, the peer's window being closed, or the peer dropped them), or 0
// when it cannot tell.
func (c *Conn) unsentBytes() int {
	raw := c.raw
	if raw == nil {
		tc := tcpConnOf(c.nc)
		if tc == nil {
			return 0
		}
		var err error
		if raw, err = tc.SyscallConn(); err != nil {
			return 0
		}
	}
	return rawUnsentBytes(raw)
}
