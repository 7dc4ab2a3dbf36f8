package websocket

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"
)

// Defaults of Reconnector's backoff.
const (
	DefaultReconnectMinDelay = 500 * time.Millisecond
	DefaultReconnectMaxDelay = 30 * time.Second
)

// Reconnector keeps a client connection to one URL: Run dials, hands each
// new connection to OnConnect, and when the connection ends (or a dial
// fails) dials again after a delay that doubles from MinDelay up to
// MaxDelay, with jitter so that clients dropped by one server restart do
// not return all at once. The delay starts over from MinDelay after a
// connection that stayed open for MaxDelay or longer; one that closes
// sooner (a server that accepts and drops at once) counts as a failure, so
// a flapping server is not hammered.
//
// OnConnect is where a client resubscribes or resyncs after a reconnect,
// then reads until the connection fails:
//
//	r := websocket.NewReconnector("wss://example.com/feed", nil, func(ctx context.Context, c *websocket.Conn) error {
//		if err := c.WriteMessage(ctx, websocket.TextMessage, []byte(`{"subscribe":"news","since":`+last+`}`)); err != nil {
//			return err
//		}
//		for {
//			_, msg, err := c.ReadMessage(ctx)
//			if err != nil {
//				return err
//			}
//			handle(msg)
//		}
//	})
//	err := r.Run(ctx) // until ctx ends
//
// Set the fields before Run; a Reconnector runs once at a time.
type Reconnector struct {
	// URL and Options are passed to Dial.
	URL     string
	Options *DialOptions
	// OnConnect is called on Run's goroutine with each new connection and
	// a context that ends with Run's. When it returns, the connection is
	// closed (1001 if the context ended, else 1000) and Run dials again;
	// its error is only reported to OnError.
	OnConnect func(ctx context.Context, c *Conn) error
	// OnError, if set, is called on Run's goroutine with each failed dial
	// and each error OnConnect returns, and the delay before the next
	// attempt.
	OnError func(err error, retryIn time.Duration)
	// MinDelay and MaxDelay bound the delay between attempts; zero means
	// DefaultReconnectMinDelay and DefaultReconnectMaxDelay.
	MinDelay, MaxDelay time.Duration
}

// NewReconnector returns a Reconnector for url with the default backoff.
func NewReconnector(url string, opts *DialOptions, onConnect func(ctx context.Context, c *Conn) error) *Reconnector {
	return &Reconnector{URL: url, Options: opts, OnConnect: onConnect}
}

// Run connects and reconnects until ctx ends, then returns ctx.Err(). It
// returns earlier, with the *DialError, when the server refuses the
// handshake with a 4xx status other than 408 and 429 (a missing route, a
// refused origin or credentials): retrying would get the same answer.
func (r *Reconnector) Run(ctx context.Context) error {
	minDelay, maxDelay := r.MinDelay, r.MaxDelay
	if minDelay <= 0 {
		minDelay = DefaultReconnectMinDelay
	}
	if maxDelay <= 0 {
		maxDelay = DefaultReconnectMaxDelay
	}
	maxDelay = max(maxDelay, minDelay)
	delay := minDelay
	for {
		c, resp, err := Dial(ctx, r.URL, r.Options)
		if ctx.Err() != nil {
			if c != nil {
				c.CloseNow()
			}
			return ctx.Err()
		}
		if err != nil {
			if permanentRefusal(resp, err) {
				return err
			}
		} else {
			opened := time.Now()
			err = r.serve(ctx, c)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if time.Since(opened) >= maxDelay {
				delay = minDelay
			}
		}
		wait := jitter(delay)
		if r.OnError != nil && err != nil {
			r.OnError(err, wait)
		}
		delay = min(2*delay, maxDelay)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// serve runs OnConnect on c and closes c afterwards.
func (r *Reconnector) serve(ctx context.Context, c *Conn) error {
	var err error
	if r.OnConnect != nil {
		err = r.OnConnect(ctx, c)
	}
	select {
	case <-c.Done():
	default:
		code := StatusNormalClosure
		if ctx.Err() != nil {
			code = StatusGoingAway
		}
		c.Close(code, "")
	}
	return err
}

// permanentRefusal reports whether a failed dial got an answer that
// retrying cannot change.
func permanentRefusal(resp *http.Response, err error) bool {
	var de *DialError
	if resp == nil || !errors.As(err, &de) {
		return false
	}
	s := resp.StatusCode
	return s >= 400 && s < 500 && s != http.StatusRequestTimeout && s != http.StatusTooManyRequests
}

// jitter returns a duration in [d/2, d): never near zero, so a crowd of
// clients spreads out without any of them hammering the server.
func jitter(d time.Duration) time.Duration {
	if d < 2 {
		return d
	}
	return d/2 + rand.N(d/2)
}
