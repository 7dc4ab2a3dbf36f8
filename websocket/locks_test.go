package websocket

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConnLocksExclude: each lock is held by one goroutine at a time,
// the three are independent, and waiters all get their turn.
func TestConnLocksExclude(t *testing.T) {
	var l connLocks
	var wg sync.WaitGroup
	counters := map[uint32]*int{lockRead: new(int), lockMessage: new(int), lockFrame: new(int)}
	inside := map[uint32]*int{lockRead: new(int), lockMessage: new(int), lockFrame: new(int)}
	for lock := range counters {
		for range 8 {
			wg.Go(func() {
				for range 500 {
					l.lockNow(lock)
					*inside[lock]++
					if *inside[lock] != 1 {
						t.Errorf("lock %d held twice", lock)
					}
					*counters[lock]++
					*inside[lock]--
					l.unlock(lock)
				}
			})
		}
	}
	wg.Wait()
	for lock, n := range counters {
		assert.Equal(t, 8*500, *n, "lock %d", lock)
	}
	assert.Zero(t, l.held.Load())
	assert.Zero(t, l.waiters.Load())
}

// TestConnLocksWaitEnds: a wait for a held lock ends on whichever comes
// first, and a release wakes a waiter.
func TestConnLocksWaitEnds(t *testing.T) {
	var l connLocks
	require.True(t, l.tryLock(lockFrame))
	require.False(t, l.tryLock(lockFrame))
	require.True(t, l.tryLock(lockRead), "the locks are independent")
	assert.True(t, l.isLocked(lockFrame))
	assert.False(t, l.isLocked(lockMessage))

	stop, done := make(chan struct{}), make(chan struct{})
	close(stop)
	assert.Equal(t, lockStopped, l.lock(lockFrame, stop, nil, nil))
	assert.Equal(t, lockTimedOut, l.lock(lockFrame, nil, time.After(time.Millisecond), nil))
	close(done)
	assert.Equal(t, lockClosed, l.lock(lockFrame, nil, nil, done))
	assert.Zero(t, l.waiters.Load(), "a wait that gave up is no longer counted")

	got := make(chan int)
	go func() { got <- l.lock(lockFrame, nil, nil, nil) }()
	require.Eventually(t, func() bool { return l.waiters.Load() == 1 }, 5*time.Second, time.Millisecond)
	l.unlock(lockFrame)
	assert.Equal(t, lockTaken, <-got)
	assert.True(t, l.isLocked(lockFrame), "the waiter holds it now")
}
