package tornago

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestAccessLine holds the line to Tornado's format, "%d %s %.2fms" of
// the status, the summary and the milliseconds.
func TestAccessLine(t *testing.T) {
	for _, d := range []time.Duration{0, 4 * time.Microsecond, 5 * time.Microsecond, 1234567 * time.Nanosecond, 3 * time.Minute} {
		want := fmt.Sprintf("%d %s %.2fms", 101, "GET /echo?a=1 (10.0.0.1)", float64(d.Microseconds())/1000)
		assert.Equal(t, want, accessLine(101, "GET", "/echo?a=1", "10.0.0.1", d), "duration %v", d)
	}
	long := "/" + strings.Repeat("x", 300)
	assert.Equal(t, "404 GET "+long+" (::1) 0.00ms", accessLine(404, "GET", long, "::1", 0), "a line longer than the stack buffer")
}
