package tornago

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/testenv"
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

// TestAccessLogAllocs keeps the access-log record's allocations within
// budget: its line and the attributes past the record's inline five (the
// handler's formatting allocates nothing of its own). A Sprintf or a
// second summary would add to it.
func TestAccessLogAllocs(t *testing.T) {
	if testenv.RaceEnabled() {
		t.Skip("allocation budget not checked under -race (.ci/run checks it without)")
	}
	app, err := NewApplication(nil, Settings{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	h := &RequestHandler{app: app, status: http.StatusSwitchingProtocols, start: time.Now()}
	h.req.Store(httptest.NewRequest(http.MethodGet, "/echo?x=1", nil))
	allocs := testing.AllocsPerRun(200, func() {
		h.logged = false
		h.logAccess()
	})
	t.Logf("%.0f allocations per access-log record", allocs)
	require.LessOrEqual(t, allocs, 2.0)
}
