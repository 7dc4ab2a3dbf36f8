package websocket_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/testenv"
	"github.com/tornago/tornago/websocket"
)

// permessage-deflate against Python's `websockets` 10.4 with its own
// defaults: its client's default offer ("permessage-deflate;
// client_max_window_bits") against our server, and our client against
// websockets.serve's default (which accepts permessage-deflate with 12-bit
// windows both ways), driven by testdata/python/deflate_client.py and
// deflate_server.py.

// pyDeflateMessages is how many messages deflate_client.py sends.
const pyDeflateMessages = 21

// pyDeflateServer is deflate_server.py running as a child process.
type pyDeflateServer struct {
	ports map[string]string // configuration name → port
}

// url returns the ws:// URL of one of the server's configurations.
func (s *pyDeflateServer) url(config string) string {
	return "ws://127.0.0.1:" + s.ports[config] + "/"
}

// startPyDeflateServer starts deflate_server.py and waits until every
// configuration listens. It stops when the test ends.
func startPyDeflateServer(t *testing.T, ctx context.Context, py string) *pyDeflateServer {
	t.Helper()
	child := testenv.StartChild(t, exec.Command(py, "testdata/python/deflate_server.py"))
	s := &pyDeflateServer{ports: map[string]string{}}
	for {
		line := child.Line(t, time.Until(deadlineOf(ctx)))
		if line == "READY" {
			return s
		}
		f := strings.Fields(line)
		require.True(t, len(f) == 3 && f[0] == "PORT", "deflate_server.py printed %q", line)
		s.ports[f[1]] = f[2]
	}
}

// TestInteropPythonDeflateClient runs deflate_client.py, with the
// `websockets` client's default offer, against our server with
// compression on in several modes. The client checks every echo and
// reports the extension it negotiated.
func TestInteropPythonDeflateClient(t *testing.T) {
	py := testenv.Python(t, "websockets")
	ctx := pyTestContext(t)
	modes := []struct {
		name   string
		opts   websocket.CompressionOptions
		answer string
		// what the Python client agreed: its own direction is "local".
		want pyDeflateParams
	}{
		{"defaults", websocket.CompressionOptions{}, "permessage-deflate",
			pyDeflateParams{RemoteMaxWindowBits: 15, LocalMaxWindowBits: 15}},
		{"no context takeover", websocket.CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
			pyDeflateParams{RemoteNoContextTakeover: true, LocalNoContextTakeover: true, RemoteMaxWindowBits: 15, LocalMaxWindowBits: 15}},
		{"windows 9, level 9, no threshold", websocket.CompressionOptions{ServerMaxWindowBits: 9, ClientMaxWindowBits: 9, Level: 9, Threshold: -1},
			"permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
			pyDeflateParams{RemoteMaxWindowBits: 9, LocalMaxWindowBits: 9}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			seen := make(chan string, 1)
			url := dcEchoServer(t, ctx, &websocket.AcceptOptions{
				Compression: &m.opts,
				ConnOptions: websocket.ConnOptions{ReadLimit: -1, CloseTimeout: pyCloseTimeout},
			}, seen)

			cmd := exec.CommandContext(ctx, py, "testdata/python/deflate_client.py", url)
			cmd.WaitDelay = 5 * time.Second
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.Output()
			require.NoError(t, err, "deflate_client.py: %s", stderr.String())
			var got struct {
				Echoed    int              `json:"echoed"`
				Extension *pyDeflateParams `json:"extension"`
				Answer    string           `json:"answer"`
				CloseCode int              `json:"close_code"`
			}
			require.NoError(t, json.Unmarshal(stdout, &got), "deflate_client.py printed %q", stdout)

			assert.Equal(t, pyDeflateMessages, got.Echoed, "messages echoed intact")
			assert.Equal(t, m.answer, got.Answer, "our answer as the Python client saw it")
			if assert.NotNil(t, got.Extension, "the Python client did not agree on compression") {
				assert.Equal(t, m.want, *got.Extension)
			}
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

// TestInteropPythonDeflateServer runs our client with compression against
// websockets.serve's default configuration (deflate_server.py "default":
// 12-bit windows both ways, which the server imposes), echoing
// compressible and incompressible text and binary up to 1 MiB.
func TestInteropPythonDeflateServer(t *testing.T) {
	py := testenv.Python(t, "websockets")
	ctx := pyTestContext(t)
	srv := startPyDeflateServer(t, ctx, py)
	modes := []struct {
		name   string
		opts   websocket.CompressionOptions
		answer string
		want   pyDeflateParams // the server's view
	}{
		{"defaults", websocket.CompressionOptions{},
			"permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
			pyDeflateParams{RemoteMaxWindowBits: 12, LocalMaxWindowBits: 12}},
		{"no context takeover", websocket.CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
			pyDeflateParams{RemoteNoContextTakeover: true, LocalNoContextTakeover: true, RemoteMaxWindowBits: 12, LocalMaxWindowBits: 12}},
		{"smaller windows asked", websocket.CompressionOptions{ServerMaxWindowBits: 10, ClientMaxWindowBits: 9},
			"permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",
			pyDeflateParams{RemoteMaxWindowBits: 9, LocalMaxWindowBits: 10}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c, info := dialPyDeflate(t, ctx, srv.url("default"), &m.opts)
			defer c.CloseNow()
			assert.Equal(t, m.answer, info.Answer)
			assert.Equal(t, m.want, *info.Extension)
			for i, msg := range pyDeflateSequence() {
				what := fmt.Sprintf("message %d (%s, %d bytes)", i, msg.typ, len(msg.data))
				require.NoError(t, c.WriteMessage(ctx, msg.typ, msg.data), "send %s", what)
				typ, got, err := c.ReadMessage(ctx)
				require.NoError(t, err, "echo of %s", what)
				require.Equal(t, msg.typ, typ, "type of the echo of %s", what)
				require.True(t, bytes.Equal(msg.data, got), "echo of %s differs (%d bytes back)", what, len(got))
			}
			require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
		})
	}
}

// pyDeflateMsg is one message of pyDeflateSequence.
type pyDeflateMsg struct {
	typ  websocket.MessageType
	data []byte
}

var (
	pySeqOnce sync.Once
	pySeq     []pyDeflateMsg
)

// pyDeflateSequence returns compressible and incompressible text and
// binary messages up to 1 MiB, with repeats, like deflate_client.py's.
func pyDeflateSequence() []pyDeflateMsg {
	pySeqOnce.Do(func() {
		ks := kinds()
		json, bitmap, prose, pdf := ks[0], ks[1], ks[2], ks[3]
		text, bin := websocket.TextMessage, websocket.BinaryMessage
		pySeq = []pyDeflateMsg{
			{text, []byte{}}, {bin, []byte{}}, {text, []byte("x")},
			{text, dcMessage(json, 127, 1)}, {text, dcMessage(json, 128, 1)},
			{text, dcMessage(json, 3000, 2)}, {text, dcMessage(json, 3000, 2)}, // a repeat
			{text, dcMessage(prose, 10000, 3)}, {bin, dcMessage(bitmap, 10000, 4)},
			{text, pyTextPayload(65536)}, {bin, pyBinaryPayload(65536)},
			{bin, dcMessage(pdf, 200000, 5)}, {text, dcMessage(json, 40000, 6)},
			{text, bytes.Repeat(dcMessage(json, 1<<16, 7), 16)}, // 1 MiB
			{bin, pyBinaryPayload(1 << 20)},
			{text, pyTextPayload(1 << 20)},
			{text, dcMessage(json, 4096, 8)},
		}
	})
	return pySeq
}

// TestPythonClientWindowBits8: a server configured with
// ClientMaxWindowBits 8 must still let zlib-based clients in. zlib (since
// 1.2.9) refuses a raw-deflate compressor with a 256-byte window, so
// Python websockets cannot honour client_max_window_bits=8; the server
// asks for 9 instead.
func TestPythonClientWindowBits8(t *testing.T) {
	py := testenv.Python(t, "websockets")
	ctx := pyTestContext(t)
	url := dcEchoServer(t, ctx, &websocket.AcceptOptions{
		Compression: &websocket.CompressionOptions{ClientMaxWindowBits: 8},
		ConnOptions: websocket.ConnOptions{ReadLimit: -1, CloseTimeout: pyCloseTimeout},
	}, nil)
	cmd := exec.CommandContext(ctx, py, "testdata/python/deflate_client.py", url)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	require.NoError(t, err, "deflate_client.py: %s", stderr.String())
	var got struct {
		Echoed int `json:"echoed"`
	}
	require.NoError(t, json.Unmarshal(stdout, &got), "deflate_client.py printed %q", stdout)
	assert.Equal(t, pyDeflateMessages, got.Echoed)
}
