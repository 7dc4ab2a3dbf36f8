package redisbroker

import (
	"context"
	"errors"
	"time"
)

// setUp records that shard s has its subscriptions in place; the broker
// is up once every shard is.
func (b *Broker) setUp(s *shard) {
	ctx, cancel := context.WithCancelCause(b.ctx)
	s.live.Store(&liveContext{ctx, cancel})
	b.mu.Lock()
	defer b.mu.Unlock()
	s.up, s.err = true, nil
	s.notifyLocked()
	if b.down--; b.down > 0 {
		return
	}
	down := time.Since(b.health.Since)
	b.health.Up, b.health.Err, b.health.Since = true, nil, time.Now()
	if !b.everUp {
		b.everUp = true
		b.logger.Info("redisbroker: connected to Redis")
		return
	}
	b.logger.Info("redisbroker: Redis connection restored; messages published by other nodes while it was down were not received here",
		"down_for", down.Round(time.Millisecond), "outages", b.health.Outages)
}

// setDown records that shard s lost its connection (or never got one)
// and ends the publishes in flight on it; the broker is down while any
// shard is.
func (b *Broker) setDown(s *shard, err error) {
	if err == nil {
		err = errors.New("connection closed")
	}
	if l := s.live.Swap(nil); l != nil {
		l.cancel(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s.err, s.tried = err, true
	if s.up {
		s.up = false
		b.down++
		s.notifyLocked()
	}
	b.health.Err = err
	if !b.health.Up {
		if b.health.Since.IsZero() {
			b.health.Since = time.Now()
			b.logger.Warn("redisbroker: cannot reach Redis; retrying", "error", err)
		}
		return
	}
	b.health.Up, b.health.Since = false, time.Now()
	b.health.Outages++
	b.logger.Warn("redisbroker: Redis connection lost; publishes reach this node only until it is back",
		"error", err)
}

// sleep waits for d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
