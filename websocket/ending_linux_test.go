//go:build linux

package websocket

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/rawpeer"

	"github.com/tornago/tornago/internal/testenv"
)

// How connections end (tcpclose.go), checked against what Linux shows:
// whether the peer reads a FIN or a reset after our close frame, and
// whether our socket is still in the kernel's table after a close.

// serverWithRawPeer accepts one connection with opts and returns our
// server Conn and a scripted client on the other end of a real TCP
// connection.
func serverWithRawPeer(t *testing.T, opts *AcceptOptions) (*Conn, *rawpeer.Peer) {
	t.Helper()
	conns := make(chan *Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := Accept(w, r, opts); err == nil {
			conns <- c
		}
	}))
	t.Cleanup(srv.Close)
	peer := rawpeer.Dial(t, srv.Listener.Addr().String(), "/ws", nil)
	select {
	case c := <-conns:
		t.Cleanup(func() { c.CloseNow() })
		return c, peer
	case <-time.After(rawpeer.Timeout):
		t.Fatal("no server connection")
		return nil, nil
	}
}

// unreadBytes returns how many received bytes c's socket holds unread.
func unreadBytes(t *testing.T, c *Conn) int {
	t.Helper()
	var n int32
	require.NoError(t, c.raw.Control(func(fd uintptr) {
		syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	}))
	return int(n)
}

// TestEndingCloseFrameThenFIN: however a connection ends after our close
// frame was written, with input from the peer that we never read, the peer
// reads the frame and then a FIN, not a reset (a reset can make the
// peer's kernel drop the frame before its application reads it). Code 0
// stands for a message written before CloseNow, with no close frame.
func TestEndingCloseFrameThenFIN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		code StatusCode
		end  func(c *Conn)
	}{
		{"WriteMessage then CloseNow", 0, func(c *Conn) {
			require.NoError(t, c.WriteMessage(context.Background(), TextMessage, []byte("last words")))
			require.NoError(t, c.CloseNow())
		}},
		{"SendClose then CloseNow", 4100, func(c *Conn) {
			require.NoError(t, c.SendClose(4100, "bye"))
			require.NoError(t, c.CloseNow())
		}},
		{"Abort", StatusGoingAway, func(c *Conn) {
			require.NoError(t, c.abort(StatusGoingAway, "bye"))
		}},
		{"Close timing out", 4101, func(c *Conn) {
			// Nobody reads but Close, so it reads the peer's data; the
			// peer sends no close frame, and more data keeps coming.
			c.closeTimeout = 100 * time.Millisecond
			require.ErrorIs(t, c.Close(4101, "bye"), ErrCloseTimeout)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, peer := serverWithRawPeer(t, nil)
			// Data our side will never read, waiting in its socket.
			const unread = 64 << 10
			peer.Queue(rawpeer.Frame{B0: rawpeer.FIN | byte(rawpeer.OpBinary), Payload: make([]byte, unread)})
			peer.Flush()
			require.Eventually(t, func() bool { return unreadBytes(t, c) >= unread }, rawpeer.Timeout, time.Millisecond)

			tc.end(c)
			<-c.Done()
			if tc.code == 0 {
				peer.Expect(rawpeer.OpText, []byte("last words"), tc.name)
			} else {
				payload := peer.ExpectClose(tc.name)
				code, _, err := rawpeer.ParseClose(payload)
				require.NoError(t, err)
				assert.Equal(t, tc.code, StatusCode(code))
			}
			assert.ErrorIs(t, peer.ReadEnd(), io.EOF, "the peer must see a FIN after what we wrote, not a reset")
		})
	}
}

// TestEndingStalledPeerReleasesSocket: when the peer has stopped reading
// (our bytes fill its window and our send buffer), ending the connection
// discards what the kernel holds and resets, so that the socket leaves
// the kernel at once; a graceful close would leave it there, holding the
// unsent bytes, for minutes. The client here never reads.
func TestEndingStalledPeerReleasesSocket(t *testing.T) {
	t.Parallel()
	chunk := make([]byte, 64<<10)
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, s *Conn)
	}{
		{"write deadline", func(t *testing.T, s *Conn) {
			require.NoError(t, s.SetWriteDeadline(time.Now().Add(200*time.Millisecond)))
			var err error
			for err == nil {
				err = s.WriteMessage(context.Background(), BinaryMessage, chunk)
			}
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		}},
		{"Abort with a write stuck", func(t *testing.T, s *Conn) {
			stuck := writeUntilStuck(t, s, chunk)
			require.NoError(t, s.abort(StatusPolicyViolation, "too slow"))
			require.ErrorIs(t, <-stuck, ErrClosed)
		}},
		{"CloseNow with a write stuck", func(t *testing.T, s *Conn) {
			stuck := writeUntilStuck(t, s, chunk)
			require.NoError(t, s.CloseNow())
			require.ErrorIs(t, <-stuck, ErrClosed)
		}},
		{"closing handshake timing out with unsent bytes", func(t *testing.T, s *Conn) {
			// Bytes the socket took but cannot send, and room left for
			// the close frame: the handshake, not a write, times out.
			require.NoError(t, s.NetConn().(*net.TCPConn).SetWriteBuffer(4<<20))
			require.NoError(t, s.WriteMessage(context.Background(), BinaryMessage, make([]byte, 512<<10)))
			require.Eventually(t, func() bool { return s.unsentBytes() > 0 }, rawpeer.Timeout, time.Millisecond)
			s.closeTimeout = 200 * time.Millisecond
			require.ErrorIs(t, s.Close(StatusGoingAway, "bye"), ErrCloseTimeout)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, c := tryPair(t, nil, nil, false, 16384)
			require.True(t, testenv.TCPSocketListed(t, s.LocalAddr(), c.LocalAddr()), "the server's socket is listed while open")
			tc.end(t, s)
			<-s.Done()
			assert.Eventually(t, func() bool { return !testenv.TCPSocketListed(t, s.LocalAddr(), c.LocalAddr()) }, 2*rawpeer.Timeout, 5*time.Millisecond,
				"the server's socket stays in the kernel with the bytes the peer never read")
		})
	}
}

// writeUntilStuck writes chunk to s on a goroutine until a write blocks
// with bytes the peer has not taken (the write lock held), and returns
// the error that ends those writes.
func writeUntilStuck(t *testing.T, s *Conn, chunk []byte) <-chan error {
	t.Helper()
	stuck := make(chan error, 1)
	go func() {
		for {
			if err := s.WriteMessage(context.Background(), BinaryMessage, chunk); err != nil {
				stuck <- err
				return
			}
		}
	}()
	require.Eventually(t, func() bool { return s.unsentBytes() > 0 && s.locks.isLocked(lockFrame) }, rawpeer.Timeout, time.Millisecond)
	return stuck
}
