package hub

import (
	"context"
	"strings"
	"sync"
	"time"
)

// WithPositionCheck makes the hub compare, every interval, the last
// publication it delivered in each room with history that has members
// here with the room's top in the broker. A room found behind in two
// checks in a row (this process missed publications and no later one came
// to reveal the gap: its broker's connection broke while Redis stayed up
// for the others, and the room went quiet) gets a "gap" frame, as a gap
// seen on delivery does, so its members rebuild their state. It costs one
// history read per such room per interval. Off (0) by default: a missed
// publication is then noticed with the next one. The check runs in one
// goroutine, stopped by Close.
func WithPositionCheck(interval time.Duration) Option {
	return func(h *Hub) { h.check.interval = interval }
}

// positionCheck is WithPositionCheck's state.
type positionCheck struct {
	interval time.Duration
	behind   map[string]Position // rooms behind at the last check, and where
	stop     chan struct{}
	done     sync.WaitGroup
}

// startPositionCheck starts the check's goroutine, if asked for.
func (h *Hub) startPositionCheck() {
	c := &h.check
	if c.interval <= 0 || h.history == nil {
		return
	}
	if _, ok := h.broker.(HistoryBroker); !ok {
		return
	}
	c.behind = map[string]Position{}
	c.stop = make(chan struct{})
	c.done.Go(func() {
		t := time.NewTicker(c.interval)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
				h.checkPositions()
			}
		}
	})
}

// stopPositionCheck stops the check's goroutine and waits for it.
func (h *Hub) stopPositionCheck() {
	if h.check.stop != nil {
		close(h.check.stop)
		h.check.done.Wait()
		h.check.stop = nil
	}
}

// checkPositions compares every room with history that has members here
// with its top, and sends a "gap" to those behind twice in a row.
func (h *Hub) checkPositions() {
	hb := h.broker.(HistoryBroker)
	behind := map[string]Position{}
	for name, last := range h.lastPositions() {
		room := strings.TrimPrefix(name, roomPrefix)
		ctx, cancel := context.WithTimeout(context.Background(), h.check.interval)
		_, top, err := hb.History(ctx, name, Position{}, h.policy(room))
		cancel()
		if err != nil || (top.Epoch == last.Epoch && top.Offset <= last.Offset) {
			continue // cannot tell now, or not behind
		}
		if h.check.behind[name] != last {
			behind[name] = last // a publication may be on its way: look again
			continue
		}
		h.withTopic(name, func(t *topic) []Member {
			if t.last != last {
				return nil // it came meanwhile
			}
			t.last = top
			pm, err := prepare(gapFrame(room, last, top), false)
			if err != nil {
				return nil
			}
			return writeAll(t.members, pm, func(m Member) bool { _, ok := t.recovering[m]; return ok })
		})
	}
	h.check.behind = behind
}

// lastPositions returns, for each room with history that has members here
// and got a publication, the last one's position.
func (h *Hub) lastPositions() map[string]Position {
	last := map[string]Position{}
	for i := range h.topics {
		ts := &h.topics[i]
		ts.mu.RLock()
		for name, t := range ts.topics {
			if !strings.HasPrefix(name, roomPrefix) {
				continue
			}
			t.pub.Lock()
			if !t.last.IsZero() {
				last[name] = t.last
			}
			t.pub.Unlock()
		}
		ts.mu.RUnlock()
	}
	return last
}
