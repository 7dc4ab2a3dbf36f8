package tornago_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

// TestWSMaxMessageFragments: Settings.WebSocketMaxMessageFragments reaches
// the connection: a message in more frames (here empty continuations,
// which the size limit does not count) is refused with 1008, and one
// within it is delivered.
func TestWSMaxMessageFragments(t *testing.T) {
	t.Parallel()
	p := newProbe()
	got := make(chan string, 1)
	p.message = func(_ *faultSocket, m tornago.Message) error {
		got <- m.Text()
		return nil
	}
	a := serveWS(t, tornago.Settings{WebSocketMaxMessageFragments: 8}, p.route("/ws"))

	// sendFragmented sends "a", frames-2 empty continuations and a final "b".
	sendFragmented := func(frames int) (func() (int, string, []byte), error) {
		nc, br := rawUpgrade(t, a.Addr, "/ws")
		var out bytes.Buffer
		writeFragment(&out, 0x1, false, []byte("a"))
		for range frames - 2 {
			writeFragment(&out, 0x0, false, nil)
		}
		writeFragment(&out, 0x0, true, []byte("b"))
		_, err := nc.Write(out.Bytes())
		return func() (int, string, []byte) { return readRawClose(t, nc, br) }, err
	}

	_, err := sendFragmented(8)
	require.NoError(t, err)
	assert.Equal(t, "ab", <-got)

	readClose, err := sendFragmented(9)
	require.NoError(t, err)
	code, reason, _ := readClose()
	assert.Equal(t, 1008, code)
	assert.Contains(t, reason, "fragments")
	info := <-p.closeInfo // the first connection is still open
	assert.Equal(t, 0, info.code, "the refused connection's OnClose (no close frame from the peer)")
}

// writeFragment appends one masked frame with opcode op to out.
func writeFragment(out *bytes.Buffer, op byte, fin bool, payload []byte) {
	var frame bytes.Buffer
	writeRawFrame(&frame, op, payload, true)
	b := frame.Bytes()
	if !fin {
		b[0] &^= 0x80
	}
	out.Write(b)
}
