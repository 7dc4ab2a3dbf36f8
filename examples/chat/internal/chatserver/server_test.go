package chatserver

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRunTLSFlags: -tls-cert and -tls-key go together and -http2 needs
// them (usage errors, status 2); -http2 in a process without
// GODEBUG=http2xconnect=1 fails at start-up, saying so, rather than
// serve every browser WebSocket on a connection of its own.
func TestRunTLSFlags(t *testing.T) {
	if strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") {
		t.Skip("this process can serve WebSockets over HTTP/2")
	}
	dir := DefaultDir()
	noEnv := func(string) string { return "" }
	cert := filepath.Join(t.TempDir(), "missing.pem")
	cases := []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"cert without key", []string{"-tls-cert", cert}, 2, "-tls-cert and -tls-key go together"},
		{"http2 without TLS", []string{"-http2"}, 2, "-http2 needs them"},
		{"http2 without GODEBUG", []string{"-tls-cert", cert, "-tls-key", cert, "-http2"}, 1, "GODEBUG=http2xconnect=1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"-addr", "127.0.0.1:0", "-dir", dir}, tc.args...)
			status := Command{Name: "chat"}.Run(context.Background(), args, noEnv, &stdout, &stderr)
			assert.Equal(t, tc.status, status)
			assert.Contains(t, stderr.String(), tc.stderr)
			assert.Empty(t, stdout.String(), "nothing listened")
		})
	}
}
