package websocket

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGroupShutdownWithRefusesUnsendableCodes: ShutdownWith fails at once,
// closing nothing and refusing nothing, for a code no close frame may carry.
func TestGroupShutdownWithRefusesUnsendableCodes(t *testing.T) {
	g := &Group{}
	for _, code := range []StatusCode{0, StatusNoStatusReceived, 1006, 1015, 999, 5000} {
		assert.Error(t, g.ShutdownWith(context.Background(), code, ""), "code %d", int(code))
	}
	s, err := g.NewSession(nil, SessionOptions{})
	require.NoError(t, err, "the group still takes sessions")
	s.Cancel()
	require.NoError(t, g.ShutdownWith(context.Background(), StatusServiceRestart, "restarting"))
}
