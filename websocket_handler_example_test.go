package tornago_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/websocket"
)

// EchoSocket greets the client by the name in its query string, then
// echoes every message.
type EchoSocket struct{ tornago.WebSocketHandler }

// Open runs before the 101 response: an error here would refuse the
// connection with an HTTP status, and what it writes is sent first.
func (h *EchoSocket) Open(args ...string) error {
	name, err := h.GetArgument("name", tornago.Default("stranger"))
	if err != nil {
		return err
	}
	return h.WriteText("hello, " + name)
}

// OnMessage echoes m with its type.
func (h *EchoSocket) OnMessage(m tornago.Message) error {
	return h.WriteMessage(m.Data, m.Binary)
}

func ExampleWebSocketHandler() {
	app, err := tornago.NewApplication([]tornago.Route{
		{Pattern: "/echo", Handler: func() tornago.Handler { return &EchoSocket{} }},
	}, tornago.Settings{Logger: slog.New(slog.DiscardHandler)}) // no access log in the example
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go app.Serve(ln) //nolint:errcheck // returns when Shutdown is called below

	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/echo?name=ann", nil)
	if err != nil {
		panic(err)
	}
	_, greeting, _ := c.ReadMessage(ctx)
	fmt.Println(string(greeting))
	_ = c.WriteMessage(ctx, websocket.TextMessage, []byte("is anyone there?"))
	_, echo, _ := c.ReadMessage(ctx)
	fmt.Println(string(echo))
	_ = c.Close(websocket.StatusNormalClosure, "bye")

	// Shutdown closes the server and any WebSocket still open (with 1001),
	// and returns once every OnClose has run.
	if err := app.Shutdown(ctx); err != nil {
		panic(err)
	}
	// Output:
	// hello, ann
	// is anyone there?
}

// chatRoom is the set of connected ChatSockets.
type chatRoom struct {
	mu      sync.Mutex
	members map[*ChatSocket]bool
}

func (r *chatRoom) join(h *ChatSocket) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.members[h] = true
}

func (r *chatRoom) leave(h *ChatSocket) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.members, h)
}

// list copies the members, so that Broadcast runs without the lock.
func (r *chatRoom) list() []*ChatSocket {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := make([]*ChatSocket, 0, len(r.members))
	for h := range r.members {
		l = append(l, h)
	}
	return l
}

// ChatSocket relays every message to everyone in its room.
type ChatSocket struct {
	tornago.WebSocketHandler
	room *chatRoom
	name string
}

// Open joins the room; the 101 follows, so the new member receives every
// message sent after its Dial returns.
func (h *ChatSocket) Open(args ...string) error {
	name, err := h.GetArgument("name")
	if err != nil {
		return err // 400: the name is required
	}
	h.name = name
	h.room.join(h)
	return nil
}

// OnMessage sends "name: text" to every member; the frame is encoded once
// for all of them.
func (h *ChatSocket) OnMessage(m tornago.Message) error {
	_, err := tornago.Broadcast(h.room.list(), []byte(h.name+": "+m.Text()), false)
	return err
}

// OnClose leaves the room; it runs once, however the connection ended.
func (h *ChatSocket) OnClose() { h.room.leave(h) }

func ExampleBroadcast() {
	room := &chatRoom{members: map[*ChatSocket]bool{}}
	app, err := tornago.NewApplication([]tornago.Route{
		{Pattern: "/chat", Handler: func() tornago.Handler { return &ChatSocket{room: room} }},
	}, tornago.Settings{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go app.Serve(ln) //nolint:errcheck // returns when Shutdown is called below

	ctx := context.Background()
	join := func(name string) *websocket.Conn {
		c, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/chat?name="+name, nil)
		if err != nil {
			panic(err)
		}
		return c
	}
	ann, bob := join("ann"), join("bob")

	// Any goroutine may broadcast, not only the handlers.
	n, err := tornago.Broadcast(room.list(), []byte("server: welcome, both of you"), false)
	fmt.Println("announcement sent to", n, "members", err)

	_ = ann.WriteMessage(ctx, websocket.TextMessage, []byte("hi bob"))
	for _, who := range []struct {
		name string
		c    *websocket.Conn
	}{{"ann", ann}, {"bob", bob}} {
		for range 2 {
			_, msg, _ := who.c.ReadMessage(ctx)
			fmt.Printf("%s got %q\n", who.name, msg)
		}
	}
	_ = ann.Close(websocket.StatusNormalClosure, "")
	_ = bob.Close(websocket.StatusNormalClosure, "")
	if err := app.Shutdown(ctx); err != nil {
		panic(err)
	}
	fmt.Println("members left:", len(room.list()))
	// Output:
	// announcement sent to 2 members <nil>
	// ann got "server: welcome, both of you"
	// ann got "ann: hi bob"
	// bob got "server: welcome, both of you"
	// bob got "ann: hi bob"
	// members left: 0
}

// RoomSocket greets the client with the room named in its path.
type RoomSocket struct{ tornago.WebSocketHandler }

// Open reads the room from the path: with http.ServeMux, a pattern's
// wildcards are the handler's PathKwargs.
func (h *RoomSocket) Open(args ...string) error {
	return h.WriteText("welcome to " + h.PathKwarg("room"))
}

func ExampleApplication_HandlerFor_webSocket() {
	// The Application holds the settings; the routes are the mux's.
	app, err := tornago.NewApplication(nil, tornago.Settings{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /rooms/{room}", app.HandlerFor(func() tornago.Handler { return &RoomSocket{} }))
	srv := &http.Server{Handler: mux}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln) //nolint:errcheck // returns when Shutdown is called below

	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/rooms/lobby", nil)
	if err != nil {
		panic(err)
	}
	_, msg, _ := c.ReadMessage(ctx)
	fmt.Println(string(msg))
	_ = c.Close(websocket.StatusNormalClosure, "")

	// http.Server.Shutdown does not see hijacked connections: the
	// Application's Shutdown closes the WebSockets it serves.
	_ = srv.Shutdown(ctx)
	_ = app.Shutdown(ctx)
	// Output:
	// welcome to lobby
}
