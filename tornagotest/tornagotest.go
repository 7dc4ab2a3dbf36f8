// Package tornagotest tests tornago applications over real connections,
// the Go counterpart of Tornado's AsyncHTTPTestCase: NewServer serves an
// Application on a loopback port for the length of a test, and a Client
// talks to it as a browser would — it keeps cookies, does not follow
// redirects, and opens WebSockets with the page's Origin and cookies.
// Conn reads with a timeout and asserts close codes.
//
//	func TestChat(t *testing.T) {
//		app, err := tornago.NewApplication(routes, settings)
//		require.NoError(t, err)
//		srv := tornagotest.NewServer(t, app)
//		browser := srv.Client()
//		page := browser.Get("/")              // self.fetch("/")
//		ws := browser.MustDial("/chatsocket", nil)
//		ws.SendJSON(map[string]string{"body": "hi"})
//		var got struct{ Body string }
//		ws.ReadJSON(&got)
//	}
//
// A Client works as well against a server in another process (NewClient
// with its base URL). Every method fails the test on an error it cannot
// return (a broken connection, a timeout), so tests read straight.
package tornagotest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tornago/tornago"
)

// DefaultTimeout bounds each request, handshake and read of a Client and
// its connections unless Client.Timeout says otherwise.
const DefaultTimeout = 10 * time.Second

// Server is an Application served by Application.Serve on a loopback port
// until the test ends, when it is shut down as a real server would be:
// Application.Shutdown closes its WebSockets with 1001 and waits for their
// OnClose. A Shutdown or Serve error then fails the test.
type Server struct {
	// App is the application served.
	App *tornago.Application
	// URL is the server's base URL, http://127.0.0.1:PORT.
	URL string
	// Addr is the listening address, 127.0.0.1:PORT.
	Addr string

	tb        testing.TB
	served    chan error
	closeOnce sync.Once
}

// NewServer serves app on 127.0.0.1 on a port the system chooses.
func NewServer(tb testing.TB, app *tornago.Application) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("tornagotest: listen: %v", err)
	}
	s := &Server{App: app, Addr: ln.Addr().String(), tb: tb, served: make(chan error, 1)}
	s.URL = "http://" + s.Addr
	go func() { s.served <- app.Serve(ln) }()
	tb.Cleanup(s.Close)
	return s
}

// Close shuts the application down now, as the end of the test would:
// Application.Shutdown (WebSockets closed with 1001, their OnClose run)
// within 20 seconds, then a check that Serve returned cleanly. Later calls,
// and the test's own cleanup, do nothing.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.App.Shutdown(ctx); err != nil {
			s.tb.Errorf("tornagotest: Shutdown: %v", err)
		}
		if err := <-s.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.tb.Errorf("tornagotest: Serve: %v", err)
		}
	})
}

// Client returns a new Client of the server: a browser with no cookies yet.
func (s *Server) Client() *Client { return NewClient(s.tb, s.URL) }

// Client makes requests and opens WebSockets against one base URL as a
// browser does: cookies that responses set are kept and sent back
// (WebSocket handshakes included), redirects are returned rather than
// followed, and handshakes carry the base URL as their Origin (see
// Origin).
type Client struct {
	// BaseURL is what paths are relative to, such as http://127.0.0.1:8888.
	BaseURL string
	// Timeout bounds each request, handshake and read; DefaultTimeout if 0.
	Timeout time.Duration
	// HTTP is the client requests go through; its Jar holds the cookies.
	HTTP *http.Client
	// Origin is what WebSocket handshakes send as their Origin: BaseURL,
	// as a page of the server would; "" sends none, as a client that is
	// not a browser.
	Origin string

	tb testing.TB
}

// NewClient returns a Client of baseURL with an empty cookie jar.
func NewClient(tb testing.TB, baseURL string) *Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatalf("tornagotest: cookie jar: %v", err)
	}
	baseURL = strings.TrimSuffix(baseURL, "/")
	return &Client{
		BaseURL: baseURL,
		Origin:  baseURL,
		HTTP: &http.Client{
			Jar:           jar,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		tb: tb,
	}
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// Response is an HTTP response with its body read.
type Response struct {
	*http.Response
	// Body is the whole body (the embedded Response's Body is closed).
	Body string
}

// Fetch sends a request for path (relative to BaseURL; a query may
// follow) with the given body and headers, and returns the response with
// its body read.
func (c *Client) Fetch(method, path string, body io.Reader, header http.Header) *Response {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		c.tb.Fatalf("tornagotest: %s %s: %v", method, path, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.tb.Fatalf("tornagotest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Fatalf("tornagotest: %s %s: reading the body: %v", method, path, err)
	}
	return &Response{Response: resp, Body: string(b)}
}

// Get fetches path.
func (c *Client) Get(path string) *Response {
	c.tb.Helper()
	return c.Fetch(http.MethodGet, path, nil, nil)
}

// PostForm posts form to path, URL-encoded. It adds the _xsrf field from
// the client's XSRF cookie when the form has none and the cookie is there,
// as a page's form rendered with XSRFFormHTML would.
func (c *Client) PostForm(path string, form url.Values) *Response {
	c.tb.Helper()
	if token := c.XSRFToken(); token != "" && !form.Has("_xsrf") {
		form = cloneValues(form)
		form.Set("_xsrf", token)
	}
	return c.Fetch(http.MethodPost, path, strings.NewReader(form.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v)+1)
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Cookie returns the cookie name that the client would send to BaseURL,
// nil if it has none.
func (c *Client) Cookie(name string) *http.Cookie {
	for _, ck := range c.cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// SetCookie stores a cookie for BaseURL, as if a response had set it.
func (c *Client) SetCookie(ck *http.Cookie) {
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		c.tb.Fatalf("tornagotest: base URL: %v", err)
	}
	c.HTTP.Jar.SetCookies(u, []*http.Cookie{ck})
}

// XSRFToken returns the value of the client's _xsrf cookie, "" if none:
// tornago (like Tornado) accepts it as the _xsrf argument or the
// X-XSRFToken header of an unsafe request.
func (c *Client) XSRFToken() string {
	if ck := c.Cookie("_xsrf"); ck != nil {
		return ck.Value
	}
	return ""
}

func (c *Client) cookies() []*http.Cookie {
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		c.tb.Fatalf("tornagotest: base URL: %v", err)
	}
	return c.HTTP.Jar.Cookies(u)
}
