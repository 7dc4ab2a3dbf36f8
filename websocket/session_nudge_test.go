package websocket

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nudgeConn returns a session that is not started (no reader runs, so
// bytes the client sends stay unread) over a loopback TCP connection, its
// server Conn, and the client.
func nudgeConn(t *testing.T) (*Session, *Conn, *Conn) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("rawUnreadBytes tells only on Linux")
	}
	sc, cc := tcpPair(t, 0)
	server := newConn(sc, nil, true, "", &ConnOptions{})
	client := newConn(cc, nil, false, "", &ConnOptions{})
	t.Cleanup(func() { server.CloseNow(); client.CloseNow() })
	s := &Session{}
	s.conn.Store(server)
	return s, server, client
}

// When bytes wait unread as the dispatcher empties the inbox, it
// interrupts the reader's read; the read fails with a timeout, the reader
// (endRead) learns it was a nudge and puts the deadline back, and the
// next read gets the message whole.
func TestNudgeInterruptsAReaderWithBytesWaiting(t *testing.T) {
	s, server, client := nudgeConn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, client.WriteMessage(ctx, TextMessage, []byte("second")))
	require.Eventually(t, func() bool { return rawUnreadBytes(server.raw) > 0 }, 10*time.Second, time.Millisecond)

	s.beginRead() // as the reader does before it reads
	s.nudgeReader()
	_, _, err := server.ReadMessage(context.Background())
	require.Error(t, err)
	assert.True(t, isTimeout(err), "the nudge interrupts the read: %v", err)
	assert.Equal(t, interruptNudge, s.endRead())

	s.beginRead()
	_, got, err := server.ReadMessage(ctx)
	assert.Equal(t, interruptNone, s.endRead())
	require.NoError(t, err)
	assert.Equal(t, "second", string(got))
}

// With nothing waiting, the dispatcher checks after each batch until
// nudgeMissesBeforeSkip checks in a row found nothing, then skips 1, 2,
// 4, ... batches between checks, up to maxNudgeSkip; bytes found start
// over.
func TestNudgeBacksOffWhileNothingWaits(t *testing.T) {
	s, server, client := nudgeConn(t)
	checked := func() bool { // whether this batch's end asked the socket
		asks := s.nudgeSkip == 0
		s.nudgeReader()
		return asks
	}
	// untilChecked calls nudgeReader until it asks the socket and returns
	// the batches skipped before that, failing past maxNudgeSkip.
	untilChecked := func() int {
		for skipped := 0; ; skipped++ {
			if checked() {
				return skipped
			}
			require.Less(t, skipped, maxNudgeSkip, "a check comes within maxNudgeSkip batches")
		}
	}
	var pattern []bool
	for range 4 + 1 + 2 + 1 + 4 + 1 {
		pattern = append(pattern, checked())
	}
	assert.Equal(t, []bool{
		true, true, true, true, // four empty checks in a row,
		false, true, // then one batch skipped,
		false, false, true, // two,
		false, false, false, false, // four...
	}, pattern[:13])

	for range 1000 {
		checked()
	}
	untilChecked() // to the start of a skip
	assert.Equal(t, maxNudgeSkip, untilChecked(), "skips stop growing")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, client.WriteMessage(ctx, TextMessage, []byte("burst")))
	require.Eventually(t, func() bool { return rawUnreadBytes(server.raw) > 0 }, 10*time.Second, time.Millisecond)
	s.beginRead()
	untilChecked()
	assert.Zero(t, s.nudgeMisses, "bytes found: the count of empty checks starts over")
	assert.Equal(t, interruptNudge, s.endRead(), "and the reader was nudged")
	_, _, err := server.ReadMessage(ctx)
	require.NoError(t, err)
	assert.True(t, checked(), "and the next batch is checked again")
}

// An interrupted read (a nudge, or parking) leaves a deadline the user
// set on the connection as it was.
func TestReadInterruptKeepsTheUsersDeadline(t *testing.T) {
	s, server, _ := nudgeConn(t)
	require.NoError(t, server.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	s.beginRead()
	s.interruptRead(interruptPark)
	assert.Equal(t, interruptPark, s.endRead())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err := server.ReadMessage(ctx) // nothing comes
	require.Error(t, err)
	assert.True(t, isTimeout(err), "%v", err)
	assert.NoError(t, ctx.Err(), "the user's deadline ended the read, not the context")
}
