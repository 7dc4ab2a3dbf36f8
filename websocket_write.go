package tornago

import (
	"context"
	"errors"
	"fmt"

	"github.com/tornago/tornago/websocket"
)

// The write methods of WebSocketHandler: each hands its message to the
// connection's websocket.Session (session_send.go in the core), which
// sends it at once or queues it.

// WriteMessage sends data to the peer as a binary message if binary is
// set, else as text (which must be valid UTF-8). It never waits for the
// network, so a slow peer never blocks the caller; Flush waits. When
// nothing is queued before it, it writes the message to the socket at once
// (as Tornado's write_message does), and a message the socket takes whole
// is neither copied nor queued; otherwise what the socket did not take is
// copied into the connection's send queue and sent from there. It is safe
// from any goroutine. Writes before the 101 (in Open) go out right after
// it; before Open (in Initialize or Prepare) there is no connection to
// queue for, and writes fail with ErrNotOpen.
//
// It fails with an error matching ErrClosed once the connection is closing,
// and with ErrSendQueueFull (after which the connection is closed with 1008)
// when the queue would exceed Settings.WebSocketSendQueueSize.
func (h *WebSocketHandler) WriteMessage(data []byte, binary bool) error {
	if h.ws == nil {
		return ErrNotOpen
	}
	return h.ws.Send(messageType(binary), data)
}

// WriteText sends s as a text message; see WriteMessage.
func (h *WebSocketHandler) WriteText(s string) error { return h.WriteMessage([]byte(s), false) }

// WriteJSON sends v encoded as JSON (JSONEncode) in a text message, as
// Tornado's write_message does with a dict; see WriteMessage.
func (h *WebSocketHandler) WriteJSON(v any) error {
	b, err := JSONEncode(v)
	if err != nil {
		return fmt.Errorf("tornago: WriteJSON: %w", err)
	}
	return h.WriteMessage(b, false)
}

// WritePrepared queues a message encoded once for many connections (see
// Broadcast); it shares pm's bytes instead of copying them. Unlike
// WriteMessage it always goes through the send queue: a fan-out hands
// every connection many messages in a burst, and the connection's flusher
// then writes all that are waiting in one system call, where writing each
// at once would make one system call per message and connection
// (BENCHMARKS.md, broadcast).
func (h *WebSocketHandler) WritePrepared(pm *websocket.PreparedMessage) error {
	if h.ws == nil {
		return ErrNotOpen
	}
	return h.ws.SendPrepared(pm)
}

// Ping queues a ping with payload (at most 125 bytes). The pong arrives at
// OnPong.
func (h *WebSocketHandler) Ping(payload []byte) error {
	if h.ws == nil {
		return ErrNotOpen
	}
	return h.ws.Ping(payload)
}

// Flush waits until everything queued before the call has been handed to
// the operating system, Tornado's write_message Future; after Close, that
// includes the close frame, which from then on reaches the peer however
// the connection ends (Application.Shutdown's included). It returns an
// error matching ErrClosed if the connection ended first, or ctx's error.
// In Open, before the 101 has gone out, it returns ErrNotOpen at once:
// what Open writes is sent once Open has returned.
func (h *WebSocketHandler) Flush(ctx context.Context) error {
	if h.ws == nil {
		return ErrNotOpen
	}
	err := h.ws.Flush(ctx)
	if errors.Is(err, websocket.ErrNotStarted) {
		return ErrNotOpen
	}
	return err
}

// Close starts the closing handshake with code and reason (code 0 sends a
// close frame without a code) after the messages already queued, and
// returns without waiting; OnClose follows when the connection is closed.
// Later writes fail with ErrClosed. Calling it again does nothing.
func (h *WebSocketHandler) Close(code int, reason string) error {
	if h.ws == nil {
		return ErrNotOpen
	}
	return h.ws.Close(websocket.StatusCode(code), reason)
}

// ErrNotOpen is returned by Flush called before the handshake completed
// (in Prepare or Open), when nothing can be sent yet, and by every write
// and Close before Open (in Initialize or Prepare), when the connection
// has no session yet.
var ErrNotOpen = fmt.Errorf("tornago: WebSocket not open yet: messages written in Open are sent after it returns (%w)", websocket.ErrNotStarted)
