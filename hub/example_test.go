package hub_test

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/websocket"
)

// rooms is the application's hub; hub.New(hub.WithBroker(...)) connects it
// to other processes.
var rooms = hub.New()

// ChatSocket is a connection that joins the room named in its URL
// (/chat/(?P<room>[^/]+)) and the user's own set of connections.
type ChatSocket struct{ tornago.WebSocketHandler }

// Open joins before the handshake completes, so no message published
// after the client connected is missed.
func (s *ChatSocket) Open(args ...string) error {
	rooms.Join(s.PathKwarg("room"), s)
	if user, err := s.GetSecureCookie("user"); err == nil && user != "" {
		rooms.JoinUser(user, s)
	}
	return nil
}

// OnMessage publishes what the member sent to everyone in its room, on
// every node.
func (s *ChatSocket) OnMessage(m tornago.Message) error {
	return rooms.Publish(context.TODO(), s.PathKwarg("room"), m.Data, m.Binary)
}

// OnClose leaves every room.
func (s *ChatSocket) OnClose() { rooms.LeaveAll(s) }

func Example() {
	app, err := tornago.NewApplication([]tornago.Route{{
		Pattern: `/chat/(?P<room>[^/]+)`,
		Handler: func() tornago.Handler { return &ChatSocket{} },
	}}, tornago.Settings{CookieSecret: "change me"})
	if err != nil {
		panic(err)
	}
	_ = app // app.ListenAndServe(":8888")

	// Elsewhere: notify all tabs of one user, wherever they are connected.
	_ = rooms.SendToUser(context.TODO(), "ann", []byte(`{"notice":"new mail"}`), false)
	fmt.Println(rooms.Presence("lobby"))
	// Output: 0
}

// A room with history gives its publications positions, and a member
// that rejoins with the last one it saw is sent what it missed.
func ExampleHub_JoinWith() {
	news := hub.New(hub.WithHistory(func(room string) hub.HistoryPolicy {
		return hub.HistoryPolicy{Size: 100, TTL: time.Hour}
	}))
	defer news.Close()
	ctx := context.Background()
	seen, _ := news.PublishWithPosition(ctx, "news", []byte("first"), false)
	_ = news.Publish(ctx, "news", []byte("second"), false) // while the member was away
	_ = news.Publish(ctx, "news", []byte("third"), false)

	member := &printer{}
	res := news.JoinWith(ctx, "news", member, hub.JoinOptions{Since: seen})
	fmt.Println(res.Recovered, res.Missed, res.Position.Offset)
	// Output:
	// {"tornago":"pub","room":"news","epoch":"…","offset":2,"data":"second"}
	// {"tornago":"pub","room":"news","epoch":"…","offset":3,"data":"third"}
	// {"tornago":"joined","room":"news","epoch":"…","offset":3,"recovered":true}
	// true 2 3
}

// printer is a member that prints what it is sent, the epoch left out
// (it is random).
type printer struct{}

func (printer) WritePrepared(pm *websocket.PreparedMessage) error {
	fmt.Println(epoch.ReplaceAllString(string(pm.Data()), `"epoch":"…"`))
	return nil
}

var epoch = regexp.MustCompile(`"epoch":"[^"]*"`)
