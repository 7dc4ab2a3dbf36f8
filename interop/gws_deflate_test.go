package interop

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lxzan/gws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/websocket"
)

// Tests of permessage-deflate against github.com/lxzan/gws v1.8.9, which
// takes part in BenchmarkDeflateMessage but not in the pair tests: a gws
// client against our server and our client against a gws server, each
// with compression in both of gws's modes, echoing 4 KiB chat-like JSON
// messages. gws's end is the gwsConn bridge of deflate_bench_test.go.

// gwsDeflateMessages are the messages each test sends, in order; the last
// repeats the first, so that with context takeover it can refer back to
// it.
func gwsDeflateMessages() [][]byte {
	return [][]byte{chatJSON(4096, 1), chatJSON(4096, 2), chatJSON(4096, 1)}
}

// checkGWSExtensions checks the Sec-WebSocket-Extensions of a 101 response
// against the mode gws asked for or answered with.
func checkGWSExtensions(t *testing.T, resp *http.Response, mode string) {
	t.Helper()
	ext := strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ", ")
	t.Logf("Sec-WebSocket-Extensions: %s", ext)
	require.Contains(t, ext, "permessage-deflate", "compression was not negotiated")
	if mode == "no-context-takeover" {
		assert.Contains(t, ext, "server_no_context_takeover", ext)
		assert.Contains(t, ext, "client_no_context_takeover", ext)
	} else {
		assert.NotContains(t, ext, "no_context_takeover", ext)
	}
}

// checkCompressed checks that every message went compressed both ways:
// the frames our side's TCP connection read (each message is one frame
// from either library) are each under half the payload, and so is all
// that it wrote, handshake included.
func checkCompressed(t *testing.T, wire *wireCount, msgs [][]byte) {
	t.Helper()
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	frames := wire.in.take()
	var data []tapFrame
	for _, f := range frames {
		if f.opcode == 1 {
			data = append(data, f)
		}
	}
	require.Len(t, data, len(msgs), "text frames read: %+v", frames)
	for i, f := range data {
		assert.Less(t, f.length, int64(len(msgs[i])/2), "message %d read: %d bytes on the wire", i, f.length)
	}
	assert.Less(t, wire.written.Load(), int64(total/2), "bytes written for %d payload bytes", total)
}

func TestInteropDeflateGWS(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"no-context-takeover", "context-takeover"} {
		t.Run("tornago-server/gws-client/"+mode, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			wire := newWireCount()
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Compression: &websocket.CompressionOptions{}})
				if err != nil {
					return
				}
				defer c.CloseNow()
				_ = echoOurs(ctx, c)
			}))
			// Our server's connection counts what it writes: wire.in
			// parses what it reads, which is what the gws client wrote.
			srv.Listener = countingListener{Listener: srv.Listener, n: wire}
			srv.Start()
			t.Cleanup(srv.Close)

			nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", srv.Listener.Addr().String())
			require.NoError(t, err)
			c, resp, err := gws.NewClientFromConn(gwsHandler{}, &gws.ClientOption{
				Addr:              "ws" + strings.TrimPrefix(srv.URL, "http"),
				PermessageDeflate: gwsDeflate(mode),
			}, nc)
			require.NoError(t, err, "gws dial")
			client := gwsEnd(c)
			t.Cleanup(client.close)
			checkGWSExtensions(t, resp, mode)

			msgs := gwsDeflateMessages()
			for i, m := range msgs {
				require.NoError(t, client.write(ctx, m), "message %d", i)
				got, err := client.read(ctx)
				require.NoError(t, err, "echo %d", i)
				require.Equal(t, string(m), string(got), "echo %d", i)
			}
			checkCompressed(t, wire, msgs)
		})

		t.Run("tornago-client/gws-server/"+mode, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			u := gws.NewUpgrader(gwsHandler{}, &gws.ServerOption{PermessageDeflate: gwsDeflate(mode)})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := u.Upgrade(w, r)
				if err != nil {
					return
				}
				gwsEnd(c).serve()
			}))
			t.Cleanup(srv.Close)

			opts := &websocket.CompressionOptions{}
			if mode == "no-context-takeover" {
				opts = &websocket.CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
			}
			wire := newWireCount()
			c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{
				Compression: opts,
				NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
					if err != nil {
						return nil, err
					}
					return &countedConn{Conn: nc, n: wire}, nil
				},
			})
			require.NoError(t, err, "tornago dial")
			t.Cleanup(func() { _ = c.CloseNow() })
			checkGWSExtensions(t, resp, mode)

			msgs := gwsDeflateMessages()
			for i, m := range msgs {
				require.NoError(t, c.WriteMessage(ctx, websocket.TextMessage, m), "message %d", i)
				typ, got, err := c.ReadMessage(ctx)
				require.NoError(t, err, "echo %d", i)
				require.Equal(t, websocket.TextMessage, typ)
				require.Equal(t, string(m), string(got), "echo %d", i)
			}
			checkCompressed(t, wire, msgs)
			require.NoError(t, c.Close(websocket.StatusNormalClosure, ""), "close handshake with gws")
		})
	}
}
