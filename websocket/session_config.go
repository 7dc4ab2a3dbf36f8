package websocket

import (
	"log/slog"
	"time"
)

// sessionConfig is what a session's options fix for its life. Sessions
// made with the same options share one (Group.sharedConfig): the settings
// of every connection of a server are usually the same, and as fields of
// each Session they would cost every idle connection a size class of the
// allocator (384 bytes instead of 352).
type sessionConfig struct {
	pingInterval time.Duration
	pingTimeout  time.Duration
	sendTimeout  time.Duration // <= 0: a stalled peer is not timed out
	inboxSize    int64
	logger       *slog.Logger
	reuseBuffers bool
}

// config returns the session's settings.
func (s *Session) config() *sessionConfig { return s.cfg.Load() }

// recentConfigs is how many distinct configurations a group keeps for
// sharing; a session whose options match none of them gets its own, so
// options that vary per connection (a ping interval from the query) cost
// no more than before and leave nothing behind.
const recentConfigs = 4

// sharedConfig returns a configuration equal to c, shared with the
// group's other sessions where one matches. A nil logger becomes the
// group's logger that discards.
func (g *Group) sharedConfig(c sessionConfig) *sessionConfig {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.logger == nil {
		if g.discard == nil {
			g.discard = slog.New(slog.DiscardHandler)
		}
		c.logger = g.discard
	}
	for _, have := range g.configs {
		if have != nil && *have == c {
			return have
		}
	}
	p := new(sessionConfig) // not &c: c would escape, allocated on every call
	*p = c
	copy(g.configs[1:], g.configs[:recentConfigs-1])
	g.configs[0] = p
	return p
}
