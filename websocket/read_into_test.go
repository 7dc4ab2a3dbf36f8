package websocket

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serverConn returns the server side of a connection with a client.
func serverConn(t *testing.T, opts *AcceptOptions, dopts *DialOptions) (server, client *Conn) {
	t.Helper()
	got := make(chan *Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := Accept(w, r, opts); err == nil {
			got <- c
		}
	}))
	t.Cleanup(srv.Close)
	client = dialT(t, "ws"+strings.TrimPrefix(srv.URL, "http"), dopts)
	server = <-got
	t.Cleanup(func() { server.CloseNow() })
	return server, client
}

func sameArray(a, b []byte) bool {
	return cap(a) > 0 && cap(b) > 0 && unsafe.SliceData(a) == unsafe.SliceData(b)
}

func TestReadMessageInto(t *testing.T) {
	for _, compressed := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "deflate"}[compressed]
		t.Run(name, func(t *testing.T) {
			var opts *AcceptOptions
			var dopts *DialOptions
			if compressed {
				opts = &AcceptOptions{Compression: &CompressionOptions{}}
				dopts = &DialOptions{Compression: &CompressionOptions{}}
			}
			server, client := serverConn(t, opts, dopts)
			ctx := context.Background()
			buf := make([]byte, 100, 4096)

			// A message that fits lands in buf's array.
			msg := bytes.Repeat([]byte("a"), 3000)
			require.NoError(t, client.WriteMessage(ctx, BinaryMessage, msg))
			typ, got, err := server.ReadMessageInto(ctx, buf)
			require.NoError(t, err)
			assert.Equal(t, BinaryMessage, typ)
			assert.Equal(t, msg, got)
			assert.True(t, sameArray(got, buf), "a message that fits reuses the buffer")

			// A larger one gets an array of its own; buf is not written past cap.
			big := bytes.Repeat([]byte("b"), 10000)
			require.NoError(t, client.WriteMessage(ctx, TextMessage, big))
			typ, got, err = server.ReadMessageInto(ctx, buf)
			require.NoError(t, err)
			assert.Equal(t, TextMessage, typ)
			assert.Equal(t, big, got)

			// An empty message is empty, not nil.
			require.NoError(t, client.WriteMessage(ctx, TextMessage, nil))
			_, got, err = server.ReadMessageInto(ctx, buf)
			require.NoError(t, err)
			assert.NotNil(t, got)
			assert.Empty(t, got)
		})
	}
}

func TestReadMessageIntoResumesAfterDeadline(t *testing.T) {
	server, client := serverConn(t, nil, nil)
	ctx := context.Background()
	buf := make([]byte, 0, 8192)

	// Half a message, then the deadline: the next call finishes it, into
	// the buffer the first call was given.
	frame := appendHeader(nil, header{fin: true, op: opBinary, length: 6000, masked: true})
	payload := bytes.Repeat([]byte("x"), 6000)
	require.NoError(t, client.SetWriteDeadline(time.Now().Add(5*time.Second)))
	_, err := client.NetConn().Write(append(frame, payload[:3000]...))
	require.NoError(t, err)
	require.NoError(t, server.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	_, _, err = server.ReadMessageInto(ctx, buf)
	require.True(t, errors.Is(err, os.ErrDeadlineExceeded), "got %v", err)
	require.NoError(t, server.SetReadDeadline(time.Time{}))
	_, err = client.NetConn().Write(payload[3000:])
	require.NoError(t, err)
	_, got, err := server.ReadMessageInto(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, payload, got)
	assert.True(t, sameArray(got, buf), "the resumed read keeps the first call's buffer")
}
