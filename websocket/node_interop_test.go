package websocket_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/testenv"
	"github.com/tornago/tornago/websocket"
)

// nodeDir holds the Node `ws` client and its pinned dependency; .ci/run
// installs it with `npm ci --prefix websocket/testdata/node`.
const nodeDir = "testdata/node"

// nodeMessages is how many messages client.js sends before its fragmented
// one.
const nodeMessages = 18

// nodeWS returns the node binary, skipping (or failing in CI) when node
// or the installed `ws` package is missing.
func nodeWS(t *testing.T) string {
	t.Helper()
	node := testenv.LookPath(t, "node")
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "ws", "package.json")); err != nil {
		testenv.Missing(t, "the ws npm package (npm ci --prefix websocket/testdata/node)")
	}
	return node
}

// TestInteropNodeDeflate runs client.js, the Node `ws` client with its
// default offer (perMessageDeflate on: "permessage-deflate;
// client_max_window_bits"), against our server with compression in
// several modes. The client checks every echo, including a compressed
// message it streams in fragments with a ping between them, and reports
// the extension it agreed.
func TestInteropNodeDeflate(t *testing.T) {
	node := nodeWS(t)
	ctx := pyTestContext(t)
	modes := []struct {
		name   string
		opts   websocket.CompressionOptions
		answer string
	}{
		{"defaults", websocket.CompressionOptions{}, "permessage-deflate"},
		{"no context takeover", websocket.CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"windows 9, level 9, no threshold", websocket.CompressionOptions{ServerMaxWindowBits: 9, ClientMaxWindowBits: 9, Level: 9, Threshold: -1},
			"permessage-deflate; server_max_window_bits=9; client_max_window_bits=9"},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			var pings atomic.Int32
			seen := make(chan string, 1)
			url := dcEchoServer(t, ctx, &websocket.AcceptOptions{
				Compression: &m.opts,
				ConnOptions: websocket.ConnOptions{
					ReadLimit:    -1,
					CloseTimeout: pyCloseTimeout,
					OnPing:       func([]byte) { pings.Add(1) },
				},
			}, seen)

			cmd := exec.CommandContext(ctx, node, "client.js", url)
			cmd.Dir = nodeDir
			cmd.WaitDelay = 5 * time.Second
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.Output()
			require.NoError(t, err, "client.js: %s", stderr.String())
			var got struct {
				Echoed       int    `json:"echoed"`
				Extensions   string `json:"extensions"`
				Answer       string `json:"answer"`
				FragmentedOK bool   `json:"fragmented_ok"`
				Pongs        int    `json:"pongs"`
				CloseCode    int    `json:"close_code"`
			}
			require.NoError(t, json.Unmarshal(stdout, &got), "client.js printed %q", stdout)

			assert.Equal(t, nodeMessages, got.Echoed, "messages echoed intact")
			assert.Equal(t, "permessage-deflate", got.Extensions, "extensions the Node client agreed")
			assert.Equal(t, m.answer, got.Answer, "our answer as the Node client saw it")
			assert.True(t, got.FragmentedOK, "the fragmented compressed message came back intact")
			assert.Equal(t, 1, got.Pongs, "pongs the Node client got")
			assert.Equal(t, int32(1), pings.Load(), "pings our server saw")
			assert.Equal(t, 1000, got.CloseCode)
			select {
			case s := <-seen:
				assert.Equal(t, `offer="permessage-deflate; client_max_window_bits" compressed=true`, s, "what our server saw")
			case <-ctx.Done():
				t.Fatal("our server saw no connection")
			}
		})
	}
}
