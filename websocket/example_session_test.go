package websocket_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tornago/tornago/websocket"
)

// shout is a session's events: it answers each message in capitals.
type shout struct {
	s      *websocket.Session
	closed chan struct{}
}

func (e *shout) OnMessage(m websocket.Message) error {
	return e.s.Send(websocket.TextMessage, []byte(strings.ToUpper(m.Text())))
}
func (e *shout) OnPing([]byte) {}
func (e *shout) OnPong([]byte) {}
func (e *shout) OnClose()      { close(e.closed) }

// A server on sessions: the Group makes one per connection before the
// handshake, Start serves it on goroutines of its own, and Shutdown closes
// whatever is left with 1001.
func ExampleSession() {
	var group websocket.Group
	closed := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := &shout{closed: closed}
		s, err := group.NewSession(e, websocket.SessionOptions{})
		if err != nil { // ErrGroupClosed: shutting down
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		e.s = s
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			s.Cancel() // OnClose runs; the group lets the session go
			return
		}
		s.Start(c)
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
	<-closed // OnClose ran
	fmt.Println(group.Shutdown(ctx))
	// Output:
	// HELLO
	// <nil>
	// <nil>
}
