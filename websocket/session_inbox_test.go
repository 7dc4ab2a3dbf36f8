package websocket

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inboxBytes reports what the inbox holds and whether the reader waits
// for room in it.
func inboxBytes(s *Session) (int64, bool) {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	return s.inboxBytes, s.inboxWait.Load()
}

// TestInboxBoundsWhatASlowOnMessageBuffers floods a connection whose
// OnMessage is blocked, with messages of 1 KiB and with empty ones: the
// reader stops reading once the inbox holds WebSocketInboxSize (pushing
// back on the peer through TCP) instead of buffering up to the maximum
// message size, and pings that go unanswered meanwhile do not time the
// peer out. Once OnMessage is released, every message is echoed in order.
func TestInboxBoundsWhatASlowOnMessageBuffers(t *testing.T) {
	for _, size := range []int{1024, 0} {
		t.Run(map[int]string{1024: "1 KiB messages", 0: "empty messages"}[size], func(t *testing.T) {
			const inbox, count = 16 << 10, 4000 // 4 MiB of 1 KiB messages
			release := make(chan struct{})
			var f *sessionFixture
			f = newSessionFixture(t, SessionOptions{
				InboxSize:    inbox,
				PingInterval: 25 * time.Millisecond,
				PingTimeout:  250 * time.Millisecond,
			}, newTestEvents(func(m Message) error {
				<-release
				return f.s.Send(BinaryMessage, m.Data)
			}), 0, false)
			c := f.client
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()

			echoes := make(chan int, 1)
			go func() { // reads (answering pings) and counts the echoes in order
				n := 0
				for n < count {
					_, data, err := c.ReadMessage(ctx)
					if err != nil || len(data) != size || (size > 0 && data[0] != byte(n)) {
						break
					}
					n++
				}
				echoes <- n
			}()
			sent := make(chan error, 1)
			go func() {
				msg := make([]byte, size)
				for i := range count {
					if size > 0 {
						msg[0] = byte(i)
					}
					if err := c.WriteMessage(ctx, BinaryMessage, msg); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()

			require.Eventually(t, func() bool { _, waiting := inboxBytes(f.s); return waiting }, 20*time.Second, time.Millisecond,
				"the reader never waited for room in the inbox")
			held, _ := inboxBytes(f.s)
			assert.LessOrEqual(t, held, int64(inbox), "inbox bytes while OnMessage is blocked")
			time.Sleep(time.Second) // four ping timeouts with the reader held up
			select {
			case <-f.ev.closed:
				t.Fatal("the peer was timed out while the server was not reading")
			default:
			}
			held, _ = inboxBytes(f.s)
			assert.LessOrEqual(t, held, int64(inbox), "inbox bytes after the pings")

			close(release)
			require.NoError(t, <-sent)
			assert.Equal(t, count, <-echoes, "echoes, in order")
			require.NoError(t, c.Close(StatusNormalClosure, ""))
			<-f.ev.closed
		})
	}
}
