package websocket

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/rawpeer"
)

func TestCompressedEcho(t *testing.T) {
	modes := []struct {
		name   string
		server CompressionOptions
		client CompressionOptions
	}{
		{"takeover", CompressionOptions{}, CompressionOptions{}},
		{"no takeover", CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true}, CompressionOptions{}},
		{"client asks no takeover", CompressionOptions{}, CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true}},
		{"small windows", CompressionOptions{ServerMaxWindowBits: 9}, CompressionOptions{ClientMaxWindowBits: 10}},
		{"level 9", CompressionOptions{Level: 9, Threshold: -1}, CompressionOptions{Level: 9, Threshold: -1}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			url := echoServer(t, &AcceptOptions{Compression: &m.server})
			c := dialT(t, url, &DialOptions{Compression: &m.client})
			require.True(t, c.Compressed())
			ctx := context.Background()
			sizes := []int{0, 1, 127, 128, 4096, 65536, 100000, 1 << 20}
			switch {
			case m.server.Level == 9:
				sizes = sizes[:6] // level 9 is slow under -race; larger sizes add nothing for it
			case m.name != "takeover":
				sizes = sizes[:7] // one mode with 1 MiB is enough; it costs seconds under -race
			}
			for i, n := range sizes {
				for _, typ := range []MessageType{TextMessage, BinaryMessage} {
					msg := []byte(strings.Repeat(fmt.Sprintf("message %d: héllo wörld ", i), n/24+1))[:n]
					if typ == BinaryMessage {
						for j := range msg {
							if rng.IntN(4) == 0 {
								msg[j] = byte(rng.Uint32())
							}
						}
					}
					msg = bytes.ToValidUTF8(msg, nil)
					require.NoError(t, c.WriteMessage(ctx, typ, msg))
					gotTyp, got, err := c.ReadMessage(ctx)
					require.NoError(t, err)
					assert.Equal(t, typ, gotTyp)
					require.True(t, bytes.Equal(msg, got), "size %d %s", n, typ)
				}
			}
			pm, err := NewPreparedMessage(TextMessage, bytes.Repeat([]byte("prepared "), 100))
			require.NoError(t, err)
			for range 3 {
				require.NoError(t, c.WritePrepared(ctx, pm))
				_, got, err := c.ReadMessage(ctx)
				require.NoError(t, err)
				assert.Equal(t, pm.Data(), got)
			}
			require.NoError(t, c.Close(StatusNormalClosure, ""))
		})
	}
}

func TestCompressionDeclinedWhenServerOff(t *testing.T) {
	c := dialT(t, echoServer(t, nil), &DialOptions{Compression: &CompressionOptions{}})
	assert.False(t, c.Compressed())
	require.NoError(t, c.WriteMessage(context.Background(), TextMessage, bytes.Repeat([]byte("x"), 1000)))
	_, got, err := c.ReadMessage(context.Background())
	require.NoError(t, err)
	assert.Len(t, got, 1000)
}

// dialDeflate completes a handshake offering permessage-deflate with
// offer, for tests that craft frames by hand.
func dialDeflate(t *testing.T, url string, offer string) *rawpeer.Peer {
	t.Helper()
	return rawpeer.Dial(t, strings.TrimPrefix(url, "ws://"), "/", http.Header{"Sec-WebSocket-Extensions": {offer}})
}

func TestCompressedPingBetweenFragments(t *testing.T) {
	url := echoServer(t, &AcceptOptions{Compression: &CompressionOptions{ServerNoContextTakeover: true}})
	p := dialDeflate(t, url, "permessage-deflate; client_no_context_takeover")
	require.True(t, p.Compressed, "permessage-deflate accepted")
	// "Hello" compressed (RFC 7692 section 7.2.3.1), split over two
	// fragments with a ping between them.
	comp := []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
	p.Queue(rawpeer.Frame{B0: rawpeer.RSV1 | byte(rawpeer.OpText), Payload: comp[:3]})
	p.Queue(rawpeer.Frame{B0: rawpeer.FIN | byte(rawpeer.OpPing), Payload: []byte("p")})
	p.Queue(rawpeer.Frame{B0: rawpeer.FIN | byte(rawpeer.OpContinuation), Payload: comp[3:]})
	p.Flush()
	// Expect the pong, then the echo (compressed or not) of "Hello".
	var sawPong, sawEcho bool
	for !(sawPong && sawEcho) {
		h, payload, err := p.ReadFrame()
		require.NoError(t, err)
		switch h.Op {
		case rawpeer.OpPong:
			assert.Equal(t, "p", string(payload))
			sawPong = true
		case rawpeer.OpText:
			assert.False(t, h.RSV1, "5 bytes are under the compression threshold")
			assert.Equal(t, "Hello", string(payload))
			sawEcho = true
		}
	}
}

func TestCompressionViolations(t *testing.T) {
	url := echoServer(t, &AcceptOptions{Compression: &CompressionOptions{}, ConnOptions: ConnOptions{ReadLimit: 1 << 20}})
	cases := []struct {
		name   string
		frames []rawpeer.Frame
		code   StatusCode
	}{
		{"RSV1 on continuation", []rawpeer.Frame{
			{B0: rawpeer.RSV1 | byte(rawpeer.OpText), Payload: []byte{0xf2, 0x48}},
			{B0: rawpeer.FIN | rawpeer.RSV1 | byte(rawpeer.OpContinuation), Payload: []byte{0xcd}}}, StatusProtocolError},
		{"RSV1 on ping", []rawpeer.Frame{{B0: rawpeer.FIN | rawpeer.RSV1 | byte(rawpeer.OpPing)}}, StatusProtocolError},
		{"corrupt data", []rawpeer.Frame{{B0: rawpeer.FIN | rawpeer.RSV1 | byte(rawpeer.OpBinary), Payload: []byte{0xff, 0xff, 0xff, 0xff}}},
			StatusInvalidFramePayloadData},
		{"invalid UTF-8 after inflating", []rawpeer.Frame{{B0: rawpeer.FIN | rawpeer.RSV1 | byte(rawpeer.OpText),
			Payload: mustCompress(t, []byte{'a', 0xff, 'b'})}}, StatusInvalidFramePayloadData},
		{"bomb", []rawpeer.Frame{{B0: rawpeer.FIN | rawpeer.RSV1 | byte(rawpeer.OpBinary), Payload: mustCompress(t, make([]byte, 64<<20))}},
			StatusMessageTooBig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := dialDeflate(t, url, "permessage-deflate")
			for _, f := range tc.frames {
				p.Queue(f)
			}
			p.Flush()
			code, _, _ := p.ReadClose()
			assert.Equal(t, tc.code, StatusCode(code))
		})
	}
	t.Run("RSV1 without negotiation", func(t *testing.T) {
		p := dialDeflate(t, echoServer(t, nil), "permessage-deflate")
		require.False(t, p.Compressed, "permessage-deflate declined")
		p.Send(rawpeer.Frame{B0: rawpeer.FIN | rawpeer.RSV1 | byte(rawpeer.OpText), Payload: []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}})
		code, _, _ := p.ReadClose()
		assert.Equal(t, StatusProtocolError, StatusCode(code))
	})
}

func mustCompress(t *testing.T, p []byte) []byte {
	t.Helper()
	out, err := compressOnce(1, 15, p)
	require.NoError(t, err)
	return out
}

func TestCompressionHandshakeHeader(t *testing.T) {
	url := echoServer(t, &AcceptOptions{Compression: &CompressionOptions{ServerNoContextTakeover: true}})
	c, resp, err := Dial(context.Background(), url, &DialOptions{Compression: &CompressionOptions{ClientMaxWindowBits: 12}})
	require.NoError(t, err)
	defer c.CloseNow()
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	ext := resp.Header.Get("Sec-WebSocket-Extensions")
	assert.Contains(t, ext, "permessage-deflate")
	assert.Contains(t, ext, "server_no_context_takeover")
}

func TestReleaseIdleCompressor(t *testing.T) {
	url := echoServer(t, &AcceptOptions{Compression: &CompressionOptions{}})
	c := dialT(t, url, &DialOptions{Compression: &CompressionOptions{}})
	ctx := context.Background()
	msg := bytes.Repeat([]byte("context takeover keeps a window "), 64)
	assert.False(t, c.releaseIdleCompressor(), "nothing to release before the first message")
	for i := range 4 {
		require.NoError(t, c.WriteMessage(ctx, TextMessage, msg))
		_, got, err := c.ReadMessage(ctx)
		require.NoError(t, err)
		require.Equal(t, msg, got)
		if i%2 == 0 {
			assert.True(t, c.releaseIdleCompressor(), "the compressor was held")
		}
	}
	plain := dialT(t, echoServer(t, nil), nil)
	assert.False(t, plain.releaseIdleCompressor())
}
