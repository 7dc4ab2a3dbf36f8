package tornago

import (
	"errors"
	"fmt"

	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/websocket"
)

// PreparedWriter is what Broadcast writes to: every handler that embeds
// WebSocketHandler is one. It is hub.Member, so the same handlers join
// hub rooms.
type PreparedWriter = hub.Member

// Broadcast sends one message to every target, encoding the frame once for
// all of them (Tornado apps loop over write_message, which encodes per
// connection). Like WriteMessage it never waits for a peer: the shared
// frame goes on each target's bounded send queue (WritePrepared), from
// which the target's flusher writes everything waiting in one system call,
// and a target that stops reading or overflows its queue is closed
// without delaying the others (Settings.WebSocketSendTimeout,
// WebSocketSendQueueSize). It returns how many targets took the message; closed targets
// are skipped without an error, since a connection can always close while
// a broadcast runs.
//
//	var members []*ChatSocket // guarded by the caller
//	tornago.Broadcast(members, []byte(`{"body":"hi"}`), false)
func Broadcast[S ~[]E, E PreparedWriter](targets S, data []byte, binary bool) (int, error) {
	pm, err := websocket.NewPreparedMessage(messageType(binary), data)
	if err != nil {
		return 0, fmt.Errorf("tornago: %w", err)
	}
	return BroadcastPrepared(targets, pm)
}

// BroadcastPrepared is Broadcast with a message the caller prepared with
// websocket.NewPreparedMessage, for a frame sent to several sets of targets.
func BroadcastPrepared[S ~[]E, E PreparedWriter](targets S, pm *websocket.PreparedMessage) (int, error) {
	n := 0
	var errs []error
	for _, t := range targets {
		err := t.WritePrepared(pm)
		switch {
		case err == nil:
			n++
		case !errors.Is(err, ErrClosed):
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// messageType is the frame type of Tornado's binary flag: text unless
// binary is set.
func messageType(binary bool) websocket.MessageType {
	if binary {
		return websocket.BinaryMessage
	}
	return websocket.TextMessage
}
