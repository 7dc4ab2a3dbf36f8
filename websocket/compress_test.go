package websocket

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// rawDeflateClient completes a handshake offering permessage-deflate on a
// raw TCP connection, for tests that craft frames by hand.
func rawDeflateClient(t *testing.T, url string, offer string) (net.Conn, *bytes.Buffer) {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "ws://"))
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Extensions: " + offer + "\r\n\r\n"
	_, err = nc.Write([]byte(req))
	require.NoError(t, err)
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	var resp bytes.Buffer
	buf := make([]byte, 1)
	for !bytes.HasSuffix(resp.Bytes(), []byte("\r\n\r\n")) {
		_, err := nc.Read(buf)
		require.NoError(t, err)
		resp.Write(buf)
	}
	return nc, &resp
}

func maskedFrame(b0 byte, payload []byte) []byte {
	h := header{fin: b0&bitFin != 0, rsv1: b0&bitRsv1 != 0, op: opcode(b0 & 0xf), masked: true, key: 0x12345678, length: int64(len(payload))}
	p := append([]byte{}, payload...)
	maskBytes(h.key, p)
	return append(appendHeader(nil, h), p...)
}

func readCloseCode(t *testing.T, nc net.Conn) StatusCode {
	t.Helper()
	buf := make([]byte, 256)
	var got []byte
	for {
		n, err := nc.Read(buf)
		got = append(got, buf[:n]...)
		for len(got) >= 2 {
			h, hl, perr := parseHeader(got)
			if perr != nil || int64(len(got)) < int64(hl)+h.length {
				break
			}
			if h.op == opClose {
				ce, err := parseClosePayload(got[hl : hl+int(h.length)])
				require.NoError(t, err)
				return ce.Code
			}
			got = got[hl+int(h.length):]
		}
		if err != nil {
			t.Fatalf("no close frame: %v", err)
		}
	}
}

func TestCompressedPingBetweenFragments(t *testing.T) {
	url := echoServer(t, &AcceptOptions{Compression: &CompressionOptions{ServerNoContextTakeover: true}})
	nc, resp := rawDeflateClient(t, url, "permessage-deflate; client_no_context_takeover")
	require.Contains(t, resp.String(), "permessage-deflate")
	// "Hello" compressed (RFC 7692 section 7.2.3.1), split over two
	// fragments with a ping between them.
	comp := []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
	var out []byte
	out = append(out, maskedFrame(byte(opText)|bitRsv1, comp[:3])...)
	out = append(out, maskedFrame(bitFin|byte(opPing), []byte("p"))...)
	out = append(out, maskedFrame(bitFin|byte(opContinuation), comp[3:])...)
	_, err := nc.Write(out)
	require.NoError(t, err)
	// Expect the pong, then the echo (compressed or not) of "Hello".
	buf := make([]byte, 512)
	var got []byte
	var sawPong, sawEcho bool
	for !(sawPong && sawEcho) {
		n, err := nc.Read(buf)
		require.NoError(t, err)
		got = append(got, buf[:n]...)
		for {
			h, hl, perr := parseHeader(got)
			if perr != nil || int64(len(got)) < int64(hl)+h.length {
				break
			}
			payload := got[hl : hl+int(h.length)]
			switch h.op {
			case opPong:
				assert.Equal(t, "p", string(payload))
				sawPong = true
			case opText:
				assert.False(t, h.rsv1, "5 bytes are under the compression threshold")
				assert.Equal(t, "Hello", string(payload))
				sawEcho = true
			}
			got = got[hl+int(h.length):]
		}
	}
}

func TestCompressionViolations(t *testing.T) {
	url := echoServer(t, &AcceptOptions{Compression: &CompressionOptions{}, ConnOptions: ConnOptions{ReadLimit: 1 << 20}})
	cases := []struct {
		name  string
		frame []byte
		code  StatusCode
	}{
		{"RSV1 on continuation", append(maskedFrame(byte(opText)|bitRsv1, []byte{0xf2, 0x48}), maskedFrame(bitFin|bitRsv1|byte(opContinuation), []byte{0xcd})...), StatusProtocolError},
		{"RSV1 on ping", maskedFrame(bitFin|bitRsv1|byte(opPing), nil), StatusProtocolError},
		{"corrupt data", maskedFrame(bitFin|bitRsv1|byte(opBinary), []byte{0xff, 0xff, 0xff, 0xff}), StatusInvalidFramePayloadData},
		{"invalid UTF-8 after inflating", maskedFrame(bitFin|bitRsv1|byte(opText), mustCompress(t, []byte{'a', 0xff, 'b'})), StatusInvalidFramePayloadData},
		{"bomb", maskedFrame(bitFin|bitRsv1|byte(opBinary), mustCompress(t, make([]byte, 64<<20))), StatusMessageTooBig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nc, _ := rawDeflateClient(t, url, "permessage-deflate")
			_, err := nc.Write(tc.frame)
			require.NoError(t, err)
			assert.Equal(t, tc.code, readCloseCode(t, nc))
		})
	}
	t.Run("RSV1 without negotiation", func(t *testing.T) {
		nc, _ := rawDeflateClient(t, echoServer(t, nil), "permessage-deflate")
		_, err := nc.Write(maskedFrame(bitFin|bitRsv1|byte(opText), []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}))
		require.NoError(t, err)
		assert.Equal(t, StatusProtocolError, readCloseCode(t, nc))
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
