package rawpeer

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rfcKey is the masking key of the masked examples of RFC 6455 section 5.7.
var rfcKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// TestFramesOfRFC6455Section57 encodes and decodes the example frames of
// RFC 6455 section 5.7, byte for byte.
func TestFramesOfRFC6455Section57(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		b0      byte
		masked  bool
		payload []byte
		wire    []byte
	}{
		{"unmasked text", FIN | byte(OpText), false, []byte("Hello"), []byte{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}},
		{"masked text", FIN | byte(OpText), true, []byte("Hello"), []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}},
		{"first fragment", byte(OpText), false, []byte("Hel"), []byte{0x01, 0x03, 0x48, 0x65, 0x6c}},
		{"last fragment", FIN | byte(OpContinuation), false, []byte("lo"), []byte{0x80, 0x02, 0x6c, 0x6f}},
		{"unmasked ping", FIN | byte(OpPing), false, []byte("Hello"), []byte{0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}},
		{"masked pong", FIN | byte(OpPong), true, []byte("Hello"), []byte{0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}},
		{"256 bytes binary", FIN | byte(OpBinary), false, bytes.Repeat([]byte{7}, 256), append([]byte{0x82, 0x7e, 0x01, 0x00}, bytes.Repeat([]byte{7}, 256)...)},
		{"64 KiB binary", FIN | byte(OpBinary), false, bytes.Repeat([]byte{7}, 65536),
			append([]byte{0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}, bytes.Repeat([]byte{7}, 65536)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var key [4]byte
			if tc.masked {
				key = rfcKey
			}
			wire := AppendFrame(nil, tc.b0, uint64(len(tc.payload)), tc.masked, key, tc.payload)
			require.Equal(t, tc.wire, wire, "encoded")

			h, payload, err := ReadFrame(bytes.NewReader(tc.wire), MaxFrame)
			require.NoError(t, err)
			assert.Equal(t, tc.b0&FIN != 0, h.Fin)
			assert.Equal(t, Opcode(tc.b0&0xf), h.Op)
			assert.Equal(t, tc.masked, h.Masked)
			assert.Equal(t, key, h.Key)
			assert.Equal(t, tc.payload, payload, "decoded")
		})
	}
}

// TestReadFrameRefusals: a 64-bit length with its top bit set, a
// payload over the limit, and a frame cut short are errors; a stream
// that ends between frames is io.EOF.
func TestReadFrameRefusals(t *testing.T) {
	t.Parallel()
	_, _, err := ReadFrame(bytes.NewReader([]byte{0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0}), MaxFrame)
	assert.ErrorContains(t, err, "most significant bit")
	_, _, err = ReadFrame(bytes.NewReader([]byte{0x82, 0x7e, 0x01, 0x00}), 255)
	assert.ErrorContains(t, err, "over the limit")
	_, _, err = ReadFrame(bytes.NewReader([]byte{0x81, 0x05, 'H'}), MaxFrame)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, _, err = ReadFrame(bytes.NewReader([]byte{0x81}), MaxFrame)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, _, err = ReadFrame(bytes.NewReader(nil), MaxFrame)
	assert.ErrorIs(t, err, io.EOF)
}

func TestParseClose(t *testing.T) {
	t.Parallel()
	code, reason, err := ParseClose(ClosePayload(4001, "bye"))
	require.NoError(t, err)
	assert.Equal(t, uint16(4001), code)
	assert.Equal(t, "bye", reason)
	for _, bad := range [][]byte{{0x03}, ClosePayload(1005, ""), ClosePayload(999, ""), ClosePayload(1000, "\xff")} {
		_, _, err := ParseClose(bad)
		assert.Error(t, err, "% x", bad)
	}
}

// TestPeerRoles writes frames from a client peer to a server peer over a
// real TCP connection: the client masks with a nonzero key, the server
// reads them back, and each side refuses the other role's masking.
func TestPeerRoles(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	cc, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer cc.Close()
	client := New(t, cc, true)
	server := New(t, AcceptConn(t, ln), false)

	long := []byte(strings.Repeat("fragmented ", 30))
	client.Queue(Frame{B0: byte(OpText), Payload: long[:100]})
	client.Queue(Frame{B0: FIN | byte(OpContinuation), Payload: long[100:]})
	client.Queue(Frame{B0: FIN | byte(OpPing), Payload: []byte("p")})
	client.Flush()
	server.Expect(OpText, long, "reassembled text")
	server.Expect(OpPing, []byte("p"), "ping")

	server.Send(Frame{B0: FIN | byte(OpClose), Payload: ClosePayload(1000, "done")})
	assert.Equal(t, "done", client.ExpectCloseCode(1000, "close"))

	client.Send(Frame{B0: FIN | byte(OpBinary), Payload: []byte("x"), BadMask: true})
	_, _, err = server.ReadFrame()
	assert.ErrorContains(t, err, "unmasked")
	server.Send(Frame{B0: FIN | byte(OpBinary), BadMask: true})
	_, _, err = client.ReadFrame()
	assert.ErrorContains(t, err, "masked")

	require.NoError(t, server.Conn.Close())
	client.ExpectTCPClose(Timeout, "server closed")
}
