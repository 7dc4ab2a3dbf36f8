package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts latencies in microseconds in log-linear buckets: exact
// below 128 µs, then 64 buckets per power of two (under 1.6 % apart). It
// is safe for concurrent use and its size does not grow with the count,
// which the chat scenario needs (19,000 members × 100 messages a second).
type histogram struct {
	buckets [histBuckets]atomic.Int64
}

const (
	histSub     = 64
	histBuckets = 2*histSub + 40*histSub
)

// bucketOf returns the bucket of a latency of us microseconds.
func bucketOf(us uint64) int {
	if us < 2*histSub {
		return int(us)
	}
	e := bits.Len64(us) - 7 // us>>e is in [64, 128)
	return min(2*histSub+(e-1)*histSub+int(us>>e)-histSub, histBuckets-1)
}

// lowerBound returns the smallest latency, in µs, that falls into bucket i.
func lowerBound(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	e := (i-2*histSub)/histSub + 1
	return uint64(histSub+(i-2*histSub)%histSub) << e
}

func (h *histogram) add(d time.Duration) {
	h.buckets[bucketOf(uint64(max(d, 0)/time.Microsecond))].Add(1)
}

// count returns how many latencies were added.
func (h *histogram) count() int64 {
	var n int64
	for i := range h.buckets {
		n += h.buckets[i].Load()
	}
	return n
}

// percentile returns the p-th percentile (0..1) in µs: the lower bound of
// the bucket holding it.
func (h *histogram) percentile(p float64) float64 {
	n := h.count()
	if n == 0 {
		return 0
	}
	rank := int64(p * float64(n-1))
	var seen int64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen > rank {
			return float64(lowerBound(i))
		}
	}
	return float64(lowerBound(histBuckets - 1))
}
