package websocket

import (
	"log/slog"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIdleFootprint guards what an idle connection costs the heap: a Conn
// and a Session, each rounded up to the allocator's size class (576 and
// 352 bytes, the Session's settings shared with its group's others; an
// object over 512 bytes that holds pointers carries an 8-byte header too,
// so a Conn must leave 8 bytes of its class free). A field that pushes
// either into the next class costs every idle connection 32–128 bytes
// more (BENCHMARKS.md, idle memory); find room in the padding or make the
// field lazy before raising these.
func TestIdleFootprint(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(Conn{}), uintptr(576-8), "Conn")
	assert.LessOrEqual(t, unsafe.Sizeof(Session{}), uintptr(352), "Session")
}

// TestSessionsShareTheirConfig: sessions given the same options share one
// configuration; options that differ each time keep theirs apart and
// leave the group holding no more than recentConfigs of them.
func TestSessionsShareTheirConfig(t *testing.T) {
	g := &Group{}
	opts := SessionOptions{PingInterval: time.Minute, SendTimeout: time.Second}
	a, err := g.NewSession(newTestEvents(nil), opts)
	require.NoError(t, err)
	b, err := g.NewSession(newTestEvents(nil), opts)
	require.NoError(t, err)
	assert.Same(t, a.config(), b.config(), "the same options share one")
	assert.Equal(t, time.Minute, a.config().pingTimeout, "the ping timeout defaults to the interval")
	assert.NotNil(t, a.config().logger, "a session given no logger discards")

	var odd []*Session
	for i := range 2 * recentConfigs {
		s, err := g.NewSession(newTestEvents(nil), SessionOptions{PingInterval: time.Duration(i+2) * time.Minute})
		require.NoError(t, err)
		odd = append(odd, s)
	}
	for i, s := range odd {
		assert.Equal(t, time.Duration(i+2)*time.Minute, s.config().pingInterval, "session %d keeps its own", i)
	}
	assert.Equal(t, time.Minute, a.config().pingInterval, "a's is untouched")
	g.mu.Lock()
	assert.Len(t, g.configs, recentConfigs)
	g.mu.Unlock()

	// SetOptions before Start replaces the settings but not the logger.
	logger := slog.New(slog.DiscardHandler)
	c, err := g.NewSession(newTestEvents(nil), SessionOptions{Logger: logger})
	require.NoError(t, err)
	c.SetOptions(SessionOptions{PingInterval: time.Hour})
	assert.Equal(t, time.Hour, c.config().pingInterval)
	assert.Same(t, logger, c.config().logger)
	for _, s := range append(odd, a, b, c) {
		s.Cancel()
	}
}
