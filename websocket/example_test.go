package websocket_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tornago/tornago/websocket"
)

// An echo server on net/http and a client that talks to it.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return // refused: the HTTP error was sent
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.ReadMessage(context.Background())
			if err != nil {
				return // the peer closed, or broke the protocol
			}
			if err := c.WriteMessage(context.Background(), typ, msg); err != nil {
				return
			}
		}
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	c.WriteMessage(ctx, websocket.TextMessage, []byte("hello"))
	_, msg, _ := c.ReadMessage(ctx)
	fmt.Println(string(msg))
	fmt.Println(c.Close(websocket.StatusNormalClosure, "bye"))
	// Output:
	// hello
	// <nil>
}

// The peer's close code and reason arrive as a *CloseError.
func ExampleCloseError() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		c.Close(4000, "maintenance")
	}))
	defer srv.Close()

	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseNow()
	_, _, err = c.ReadMessage(context.Background())
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		fmt.Println(ce.Code, ce.Reason)
	}
	// Output: 4000 maintenance
}

// Accept refuses a cross-origin browser request with 403 unless
// CheckOrigin allows it.
func ExampleAcceptOptions_checkOrigin() {
	opts := &websocket.AcceptOptions{
		CheckOrigin: func(r *http.Request) bool {
			return websocket.DefaultCheckOrigin(r) || r.Header.Get("Origin") == "https://app.example"
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := websocket.Accept(w, r, opts); err == nil {
			c.Close(websocket.StatusNormalClosure, "")
		}
	}))
	defer srv.Close()

	for _, origin := range []string{"https://app.example", "https://evil.example"} {
		c, resp, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"),
			&websocket.DialOptions{Header: http.Header{"Origin": {origin}}})
		if err == nil {
			c.CloseNow()
		}
		fmt.Println(origin, resp.StatusCode)
	}
	// Output:
	// https://app.example 101
	// https://evil.example 403
}

// A message encoded once and written to several connections.
func ExamplePreparedMessage() {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, []byte(`{"event":"tick"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pm.Type(), string(pm.Data()))
	// Each receiver: conn.WritePrepared(ctx, pm)
	// Output: text {"event":"tick"}
}
