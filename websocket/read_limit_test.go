package websocket

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConnSetReadLimit: SetReadLimit changes the limit of a connection
// already open, from the next message on: a message within it is read, one
// byte more fails the read and closes with 1009, and a negative limit
// lifts it (past the options' limit).
func TestConnSetReadLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		limit     int64
		sizes     []int
		wantLarge bool // the last message is read (else: closed with 1009)
	}{
		{"lowered", 16, []int{16, 17}, false},
		{"lifted", -1, []int{100, 5000}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			results := make(chan error, len(tc.sizes))
			got := make(chan []byte, len(tc.sizes))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := Accept(w, r, &AcceptOptions{ConnOptions: ConnOptions{ReadLimit: 1000}})
				if err != nil {
					results <- err
					return
				}
				defer c.CloseNow()
				c.SetReadLimit(tc.limit)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				for range tc.sizes {
					_, b, err := c.ReadMessage(ctx)
					results <- err
					if err != nil {
						return
					}
					got <- b
				}
				c.Close(StatusNormalClosure, "")
			}))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _, err := Dial(ctx, "ws"+srv.URL[len("http"):], nil)
			require.NoError(t, err)
			defer c.CloseNow()
			for _, n := range tc.sizes {
				require.NoError(t, c.WriteMessage(ctx, BinaryMessage, bytes.Repeat([]byte{'x'}, n)))
			}
			require.NoError(t, <-results, "the first message is within the limit")
			assert.Len(t, <-got, tc.sizes[0])
			err = <-results
			if tc.wantLarge {
				require.NoError(t, err)
				assert.Len(t, <-got, tc.sizes[1])
				return
			}
			require.ErrorIs(t, err, ErrMessageTooBig)
			_, _, err = c.ReadMessage(ctx)
			var ce *CloseError
			require.True(t, errors.As(err, &ce), "%v", err)
			assert.Equal(t, StatusMessageTooBig, ce.Code)
		})
	}
}
