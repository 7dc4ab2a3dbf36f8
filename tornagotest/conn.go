package tornagotest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tornago/tornago/websocket"
)

// Dial opens a WebSocket to path (relative to BaseURL, ws or wss after its
// scheme) as a page of BaseURL would: with the client's Origin (unless
// opts.Header sets one) and cookies. It returns the
// handshake's response, so that a refused handshake can be checked
// (Refused reads it for you); the connection is closed when the test
// ends. Cookies the server sets on the 101 are kept.
func (c *Client) Dial(path string, opts *websocket.DialOptions) (*Conn, *http.Response, error) {
	c.tb.Helper()
	o := websocket.DialOptions{}
	if opts != nil {
		o = *opts
	}
	o.Header = o.Header.Clone()
	if o.Header == nil {
		o.Header = http.Header{}
	}
	if o.Header.Get("Origin") == "" && c.Origin != "" {
		o.Header.Set("Origin", c.Origin)
	}
	for _, ck := range c.cookies() {
		o.Header.Add("Cookie", ck.Name+"="+ck.Value)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout())
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, wsURL(c.BaseURL)+path, &o)
	if resp != nil {
		for _, ck := range resp.Cookies() { // cookies set in Open ride on the 101
			c.SetCookie(ck)
		}
	}
	if err != nil {
		return nil, resp, err
	}
	c.tb.Cleanup(func() { ws.CloseNow() })
	return &Conn{Conn: ws, tb: c.tb, timeout: c.timeout()}, resp, nil
}

// MustDial is Dial that fails the test unless the handshake succeeds.
func (c *Client) MustDial(path string, opts *websocket.DialOptions) *Conn {
	c.tb.Helper()
	conn, _, err := c.Dial(path, opts)
	if err != nil {
		c.tb.Fatalf("tornagotest: WebSocket %s: %v", path, err)
	}
	return conn
}

// Refused is Handshake for a handshake the server must refuse; it fails
// the test if the server accepted it.
func (c *Client) Refused(path string, opts *websocket.DialOptions) *Response {
	c.tb.Helper()
	resp := c.Handshake(path, opts)
	if resp.StatusCode == http.StatusSwitchingProtocols {
		c.tb.Fatalf("tornagotest: WebSocket %s: the handshake succeeded, want a refusal", path)
	}
	return resp
}

// Handshake opens a WebSocket to path and returns the server's answer
// with its body read, whether it accepted (101; the connection is then
// closed at once) or refused: for tables of handshakes and the statuses
// they get.
func (c *Client) Handshake(path string, opts *websocket.DialOptions) *Response {
	c.tb.Helper()
	conn, resp, err := c.Dial(path, opts)
	if err == nil {
		conn.CloseNow()
		return &Response{Response: resp}
	}
	if resp == nil {
		c.tb.Fatalf("tornagotest: WebSocket %s: no HTTP answer: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &Response{Response: resp, Body: string(body)}
}

// wsURL turns an http(s) base URL into a ws(s) one.
func wsURL(base string) string {
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest
	}
	return "ws://" + strings.TrimPrefix(base, "http://")
}

// Conn is a client WebSocket whose reads time out (the Client's Timeout)
// and whose methods fail the test on errors. The embedded *websocket.Conn
// stays available for anything else.
type Conn struct {
	*websocket.Conn
	tb      testing.TB
	timeout time.Duration
}

// Read reads the next message, failing the test if none arrives in time.
func (c *Conn) Read() (websocket.MessageType, []byte) {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	typ, data, err := c.ReadMessage(ctx)
	if err != nil {
		c.tb.Fatalf("tornagotest: reading a WebSocket message: %v", err)
	}
	return typ, data
}

// ReadText reads the next message, which must be text.
func (c *Conn) ReadText() string {
	c.tb.Helper()
	typ, data := c.Read()
	if typ != websocket.TextMessage {
		c.tb.Fatalf("tornagotest: got a %v message, want text", typ)
	}
	return string(data)
}

// ReadJSON reads the next message, a text message, and decodes it into v.
func (c *Conn) ReadJSON(v any) {
	c.tb.Helper()
	data := c.ReadText()
	if err := json.Unmarshal([]byte(data), v); err != nil {
		c.tb.Fatalf("tornagotest: message %q: %v", data, err)
	}
}

// SendText sends s as a text message.
func (c *Conn) SendText(s string) {
	c.tb.Helper()
	c.send(websocket.TextMessage, []byte(s))
}

// SendJSON sends v encoded as JSON in a text message.
func (c *Conn) SendJSON(v any) {
	c.tb.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		c.tb.Fatalf("tornagotest: SendJSON: %v", err)
	}
	c.send(websocket.TextMessage, data)
}

func (c *Conn) send(typ websocket.MessageType, data []byte) {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if err := c.WriteMessage(ctx, typ, data); err != nil {
		c.tb.Fatalf("tornagotest: sending a WebSocket message: %v", err)
	}
}

// ExpectClose reads, dropping any messages, until the server closes the
// connection, and returns the close frame it sent; it fails the test if
// the connection ends without one (a dropped TCP connection) or does not
// end in time.
func (c *Conn) ExpectClose() *websocket.CloseError {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	for {
		_, _, err := c.ReadMessage(ctx)
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce
		}
		c.tb.Fatalf("tornagotest: the connection ended without a close frame: %v", err)
		return nil
	}
}
