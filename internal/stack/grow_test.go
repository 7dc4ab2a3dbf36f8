package stack

import (
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/testenv"
)

// stacksOf starts n goroutines that run before and then block, and
// returns how much the stacks in use grew with them; release ends them.
func stacksOf(n int, before func()) (grew int64, release func()) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	inUse := int64(ms.StackInuse)
	stop := make(chan struct{})
	var started, done sync.WaitGroup
	for range n {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			before()
			started.Done()
			<-stop
		}()
	}
	started.Wait()
	runtime.ReadMemStats(&ms)
	return int64(ms.StackInuse) - inUse, func() { close(stop); done.Wait() }
}

// TestGrowAllocatesTheCallersStack compares goroutines that call Grow
// with goroutines that do not: each of the first must hold at least
// probeSize more stack. Under -race the stack guard is twice as large, so
// every goroutine's stack is 4 KiB before it runs and Grow's probe fits;
// .ci/run runs this test without -race too (its name matches "Alloc").
func TestGrowAllocatesTheCallersStack(t *testing.T) {
	if testenv.RaceEnabled() {
		t.Skip("under -race every goroutine starts on a stack Grow need not grow (.ci/run checks it without)")
	}
	const n = 4000
	plain, releasePlain := stacksOf(n, func() {})
	defer releasePlain()
	grown, releaseGrown := stacksOf(n, Grow)
	defer releaseGrown()
	require.Positive(t, plain, "starting goroutines should take stack")
	perPlain, perGrown := plain/n, grown/n
	t.Logf("stack per goroutine: %d B plain, %d B after Grow", perPlain, perGrown)
	require.GreaterOrEqual(t, perGrown-perPlain, int64(probeSize),
		"a goroutine that called Grow should hold at least %d bytes more stack than one that did not", probeSize)
}

// BenchmarkGrow is Grow's cost when the stack needs no growth: a 2 KiB
// clear.
func BenchmarkGrow(b *testing.B) {
	for b.Loop() {
		Grow()
	}
}
