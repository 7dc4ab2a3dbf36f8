package websocket

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoServer starts an HTTP server whose handler accepts WebSocket
// connections with opts and echoes every message with its type until the
// peer closes. It returns the ws:// URL.
func echoServer(t *testing.T, opts *AcceptOptions) string {
	t.Helper()
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Add before Accept hijacks: until then srv.Close waits for this
		// request, so the Add always precedes the cleanup's Wait.
		wg.Add(1)
		defer wg.Done()
		c, err := Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.ReadMessage(context.Background())
			if err != nil {
				return
			}
			if err := c.WriteMessage(context.Background(), typ, msg); err != nil {
				return
			}
		}
	}))
	t.Cleanup(func() {
		srv.Close()
		wg.Wait()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dialT(t *testing.T, url string, opts *DialOptions) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := Dial(ctx, url, opts)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func TestEchoSizes(t *testing.T) {
	c := dialT(t, echoServer(t, nil), nil)
	ctx := context.Background()
	for _, n := range []int{0, 1, 125, 126, 127, 4000, 4096, 65535, 65536, 1 << 20} {
		for _, typ := range []MessageType{TextMessage, BinaryMessage} {
			msg := bytes.Repeat([]byte("é"), n/2)
			require.NoError(t, c.WriteMessage(ctx, typ, msg))
			gotTyp, got, err := c.ReadMessage(ctx)
			require.NoError(t, err)
			assert.Equal(t, typ, gotTyp)
			assert.True(t, bytes.Equal(msg, got), "size %d", n)
		}
	}
	require.NoError(t, c.Close(StatusNormalClosure, "done"))
	_, _, err := c.ReadMessage(ctx)
	assert.ErrorIs(t, err, ErrClosed)
}

func TestStreamingWriterAndReader(t *testing.T) {
	c := dialT(t, echoServer(t, nil), nil)
	ctx := context.Background()
	w, err := c.NextWriter(ctx, BinaryMessage)
	require.NoError(t, err)
	want := bytes.Repeat([]byte("0123456789"), 10000)
	for i := 0; i < len(want); i += 333 {
		_, err := w.Write(want[i:min(i+333, len(want))])
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	typ, r, err := c.NextReader(ctx)
	require.NoError(t, err)
	assert.Equal(t, BinaryMessage, typ)
	var got bytes.Buffer
	_, err = got.ReadFrom(r)
	require.NoError(t, err)
	assert.Equal(t, want, got.Bytes())
}

func TestReadContextLeavesConnUsable(t *testing.T) {
	c := dialT(t, echoServer(t, nil), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := c.ReadMessage(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, c.WriteMessage(context.Background(), TextMessage, []byte("still here")))
	_, got, err := c.ReadMessage(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "still here", string(got))
}

func TestConcurrentWriters(t *testing.T) {
	c := dialT(t, echoServer(t, nil), nil)
	ctx := context.Background()
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				msg := bytes.Repeat([]byte{byte('a' + g)}, 100+i)
				if err := c.WriteMessage(ctx, BinaryMessage, msg); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					assert.NoError(t, c.Ping(ctx, []byte("p")))
				}
			}
		}()
	}
	next := make([]int, writers)
	for range writers * each {
		_, msg, err := c.ReadMessage(ctx)
		require.NoError(t, err)
		g := int(msg[0] - 'a')
		require.Equal(t, 100+next[g], len(msg))
		next[g]++
	}
	wg.Wait()
}

func TestPeerCloseCodeAndReason(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		c.Close(4001, "bye")
	}))
	defer srv.Close()
	c := dialT(t, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	_, _, err := c.ReadMessage(context.Background())
	var ce *CloseError
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, StatusCode(4001), ce.Code)
	assert.Equal(t, "bye", ce.Reason)
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("connection not closed after the closing handshake")
	}
}

func TestCloseWithoutReader(t *testing.T) {
	c := dialT(t, echoServer(t, nil), nil)
	require.NoError(t, c.WriteMessage(context.Background(), TextMessage, []byte("unread echo")))
	start := time.Now()
	require.NoError(t, c.Close(StatusGoingAway, ""))
	assert.Less(t, time.Since(start), time.Second)
	assert.ErrorIs(t, c.WriteMessage(context.Background(), TextMessage, []byte("x")), ErrClosed)
}

// TestReadContextExpiryDoesNotReachTheNextRead: a context that ends as a
// read returns must not leave its interruption for the next read (the
// watcher's callback used to run late and move the next read's deadline
// into the past, giving a raw i/o timeout there).
func TestReadContextExpiryDoesNotReachTheNextRead(t *testing.T) {
	c := dialT(t, echoServer(t, nil), nil)
	for i := range 200 {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Millisecond)
		_, _, err := c.ReadMessage(ctx)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded, "read %d", i)
	}
	require.NoError(t, c.WriteMessage(context.Background(), TextMessage, []byte("alive")))
	_, got, err := c.ReadMessage(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "alive", string(got))
}
