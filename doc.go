// Package tornago ports Python Tornado's web handler model to Go: an
// Application routes requests by regular expression to handler structs with
// Get, Post, ... methods, one fresh handler per request, with Tornado's
// argument, cookie, XSRF, authentication, template, static-file and error
// conventions. The Application is an http.Handler, so it runs on any
// net/http server and can be mounted in any router.
//
//	type MainHandler struct{ tornago.RequestHandler }
//
//	func (h *MainHandler) Get(args ...string) error {
//		return h.Write("Hello, world")
//	}
//
//	app, err := tornago.NewApplication([]tornago.Route{
//		{Pattern: `/`, Handler: func() tornago.Handler { return &MainHandler{} }},
//	}, tornago.Settings{})
//	...
//	err = app.ListenAndServe(":8888")
//
// # Handler lifecycle
//
// For each request the Application finds the first Route whose Pattern (an
// anchored Go regular expression over the raw path) matches, calls the
// route's Factory, and then, on the request's goroutine:
//
//  1. binds the handler to the request and calls Initialize, if defined;
//  2. parses the query string and a form body: 400 if malformed or with
//     more than Settings.MaxArguments arguments, 413 over
//     Settings.MaxBodySize (a declared Content-Length is refused before
//     the body is read) or, for a url-encoded body, Settings.MaxFormMemory;
//  3. checks the XSRF token for POST, PUT, PATCH and DELETE when
//     Settings.XSRFCookies is on (403 on failure);
//  4. calls Prepare, if defined; an error ends the request with an error
//     page, and Prepare may also finish the response itself;
//  5. for handlers wrapped in Authenticated (for this method), redirects or
//     refuses anonymous users;
//  6. calls the verb method for the HTTP method with the pattern's
//     positional groups (405 if the handler has none; HEAD falls back to
//     Get);
//  7. finishes the response if the method did not (ETag, 304,
//     Content-Length, optional gzip), logs the access line, and calls
//     OnFinish;
//  8. removes a multipart form's temporary files, on every path (errors
//     and panics included), however the Application is mounted.
//
// Output is buffered until Finish or Flush, so a handler can change the
// status and headers, or fail, after writing. Flush sends what was written
// so far and fixes the status and headers.
//
// # WebSockets
//
// A WebSocket handler embeds WebSocketHandler and overrides Open, OnMessage
// and OnClose (and optionally CheckOrigin, SelectSubprotocol, OnPing,
// OnPong, CompressionOptions). Its lifecycle:
//
//  1. steps 1, 2, 4 and 5 above run as for any handler;
//  2. the handshake is checked in Tornado's order and with its statuses
//     (405, 400, 403 for a refused Origin, 426, 400);
//  3. Open runs before the 101 response is written, so cookies and headers
//     it sets ride on the 101, an error it returns becomes that HTTP status,
//     and messages it writes are sent right after the 101;
//  4. one goroutine reads frames and answers pings while another calls
//     OnMessage for each message, in order;
//  5. OnClose runs exactly once for every Open called, however the
//     connection ends (a refused Open included).
//
// WriteMessage, WriteText, WriteJSON, WritePrepared, Ping, Flush and Close
// may be called from any goroutine. Writes go to a send queue bounded by
// Settings.WebSocketSendQueueSize and never wait for the peer; a peer that
// lets its queue overflow, or takes nothing for Settings.WebSocketSendTimeout,
// is closed with 1008. Broadcast sends one message
// to many handlers with the frame encoded once. Keepalive pings
// (Settings.WebSocketPingInterval) are sent by one goroutine per
// Application, not one per connection.
//
// # Errors
//
// Verb methods, Prepare and the WebSocket hooks return error. An HTTPError
// (or anything wrapping one) sets the status; a *ValidationError from Bind
// answers 400 with the field errors as JSON; anything else is a 500, logged
// at Error level. Panics are recovered into a 500 and logged with their
// stack; once a streamed response has been flushed, the connection is cut
// instead, so a truncated body cannot pass for a complete one. The default
// error page is Tornado's ("<html><title>404: Not Found</title>..."): it
// shows only the reason phrase, never the error's text, unless
// Settings.Debug is on. Override WriteError to render your own.
//
// # Concurrency
//
// The Application is safe for concurrent use. A handler instance serves one
// request and its methods must be called from that request's goroutine
// (goroutines the handler starts must not touch it after the verb method
// returns); WebSocketHandler's write methods, listed above, are the
// exception. Factories are called concurrently and must return a new value
// each time; NewApplication calls each once more, at start-up, to refuse a
// handler whose methods could not serve (see HandlerError).
//
// # Cookies, XSRF and users
//
// GetCookie and SetCookie read and write plain cookies; SetSecureCookie and
// GetSecureCookie sign them with Settings.CookieSecret (or the rotated key
// set CookieSecrets/KeyVersion) through the cookies package, by default with
// gorilla/securecookie, or byte-compatible with Tornado when
// Settings.CookieCodec is a cookies.TornadoCodec. With Settings.XSRFCookies
// every unsafe request must echo the "_xsrf" cookie's token (Tornado's v2
// masked format), which templates embed with {{xsrf_form_html}}.
// CurrentUser calls the handler's GetCurrentUser, or the Application-wide
// Settings.GetCurrentUser, once per request; Authenticated makes a route,
// or some of its methods, require a user.
//
// # Mounting and shutdown
//
// Run serves the Application until a context ends (a signal, say) and then
// shuts it down gracefully, within Settings.ShutdownTimeout. Or serve it
// with any http.Server, or mount a single handler in another router with
// Application.HandlerFor. Shutdown stops the servers
// started by ListenAndServe or Serve and, at the same time, closes the
// connections the HTTP server does not track (WebSockets, with 1001 or
// Settings.WebSocketShutdownCode); call
// it also when you run your own http.Server.
//
// The porting notes in docs/porting.md list where tornago differs from
// Tornado, and why.
package tornago
