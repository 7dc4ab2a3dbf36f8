package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Every latency falls into a bucket whose lower bound is at most it and
// within 1/64 of it, and buckets are in order.
func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for _, us := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 12345, 1 << 20, 1<<40 - 1} {
		i := bucketOf(us)
		assert.GreaterOrEqual(t, i, prev, "%d µs", us)
		prev = i
		lb := lowerBound(i)
		assert.LessOrEqual(t, lb, us, "%d µs", us)
		assert.LessOrEqual(t, float64(us-lb), float64(us)/histSub, "%d µs", us)
	}
}

func TestHistogramPercentiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	assert.EqualValues(t, 1000, h.count())
	assert.InEpsilon(t, 500_000, h.percentile(0.5), 1.0/histSub)
	assert.InEpsilon(t, 990_000, h.percentile(0.99), 1.0/histSub)
	var empty histogram
	assert.Zero(t, empty.percentile(0.99))
}
