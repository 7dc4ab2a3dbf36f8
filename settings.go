package tornago

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tornago/tornago/cookies"
	"github.com/tornago/tornago/websocket"
)

// Settings configures an Application; the fields carry Tornado's setting
// names in Go spelling (cookie_secret is CookieSecret) and, where Tornado has
// one, its default. The zero value is usable: every zero field means "the
// default" (see WithDefaults), and features whose setting is empty (secure
// cookies, static files, templates, login redirects) return an error wrapping
// ErrMissingSetting when used.
type Settings struct {
	// CookieSecret signs secure cookies (SetSecureCookie). Use a long random
	// string and keep it out of source control.
	CookieSecret string
	// CookieSecrets is Tornado's dict cookie_secret: versioned secrets for
	// key rotation. KeyVersion selects the one that signs new cookies; all
	// of them verify. Set CookieSecret or CookieSecrets, not both.
	CookieSecrets map[int]string
	// KeyVersion is the key of CookieSecrets used to sign (Tornado's
	// key_version).
	KeyVersion int
	// CookieCodec, if set, is the secure-cookie codec, with the keys it was
	// built with; use cookies.NewTornadoCodec to read and write a Tornado
	// application's cookies (see docs/porting.md). Set it or CookieSecret /
	// CookieSecrets, not both: NewApplication refuses the pair rather than
	// ignore a secret. When nil, secure cookies use the gorilla/securecookie
	// codec with the secrets.
	CookieCodec cookies.Codec

	// XSRFCookies turns on Tornado's XSRF protection: POST, PUT, PATCH and
	// DELETE requests must carry the "_xsrf" cookie's token in an "_xsrf"
	// argument or an X-XSRFToken / X-CSRFToken header, or get 403.
	XSRFCookies bool
	// XSRFCookieOptions are applied to the "_xsrf" cookie (Tornado's
	// xsrf_cookie_kwargs), e.g. CookieSecure(), CookieSameSite(...).
	XSRFCookieOptions []CookieOption

	// LoginURL is where Authenticated handlers send anonymous GET and HEAD
	// requests, with the requested URL in the "next" argument.
	LoginURL string
	// GetCurrentUser, if set, loads CurrentUser for every handler of the
	// Application that has no GetCurrentUser method of its own: pages and
	// WebSocket handlers (h is a WebSocketHandler's embedded
	// RequestHandler) then agree on who is logged in without each type
	// repeating the code, as Tornado apps put get_current_user on one base
	// class. It runs at most once per request, on the request's goroutine.
	GetCurrentUser func(h *RequestHandler) (any, error)
	// TemplatePath is the directory Render loads html/template files from;
	// NewApplication parses and checks them all (see Render for how pages
	// extend layouts).
	TemplatePath string
	// StaticPath is the directory served under StaticURLPrefix (and at
	// /favicon.ico and /robots.txt), as Tornado's static_path does.
	StaticPath string
	// StaticURLPrefix is the URL prefix of static files; default "/static/".
	StaticURLPrefix string

	// Debug shows error details (messages, panic stacks) in error
	// responses, reloads templates on every render and stops caching static
	// file hashes. Never turn it on in production.
	Debug bool
	// CompressResponse gzips text, JSON, JavaScript, XML and SVG responses
	// of at least 1 KiB for clients that accept gzip (Tornado's
	// compress_response).
	CompressResponse bool

	// Logger receives the access log ("200 GET /path (ip) 1.23ms" at Info,
	// 4xx at Warn, 5xx at Error) and handler errors. Nil means
	// slog.Default(), read once by NewApplication; pass
	// slog.New(slog.DiscardHandler) to silence it. Access records carry
	// no source position (HandlerOptions.AddSource): it would always be
	// the framework's. A busy server's access log is a write per request:
	// a handler writing to a BufferedLogWriter writes many lines at once.
	Logger *slog.Logger
	// DefaultHandler serves requests no route matches (Tornado's
	// default_handler_class); nil answers 404 with the default error page.
	DefaultHandler Factory
	// MaxBodySize caps request bodies in bytes (Tornado's max_body_size,
	// default 100 MiB); a larger body is answered with 413, before any of
	// it is read when its Content-Length says so.
	MaxBodySize int64
	// MaxFormMemory bounds how much of a form body is held in memory, so
	// that concurrent large forms cannot exhaust it; default 10 MiB (the
	// cap net/http's ParseForm puts on url-encoded bodies). A url-encoded
	// body larger than this is answered with 413, since it can only be
	// parsed in memory; multipart file parts beyond it go to temporary
	// files (removed when the request ends). net/http's multipart reader
	// keeps up to 10 MB of non-file values in memory on top of it.
	// Tornado keeps every body in memory up to max_body_size.
	MaxFormMemory int64
	// MaxArguments is how many arguments the query string may hold, and
	// separately a url-encoded body (counting "&"-separated pairs); more
	// is answered with 400. Default 10,000, the limit url.ParseQuery has
	// applied since Go 1.26 (GODEBUG urlmaxqueryparams): every argument
	// costs a map entry and a string. Multipart bodies are limited to 1,000
	// parts by net/http (GODEBUG multipartmaxparts).
	MaxArguments int
	// MaxJSONElements caps the array elements plus object members a JSON
	// body decoded by Bind may hold, counted over the whole document while
	// it is read; more is answered with 413. Default 10,000, the same
	// bound as MaxArguments: each element costs memory when decoded, and
	// go-playground/validator cannot stop early, so a `dive` over a huge
	// array would build one error per element.
	MaxJSONElements int
	// MaxFieldErrors is how many field errors a *ValidationError lists
	// (and its 400 response carries); the rest are only counted, in
	// ValidationError.Omitted. Default 100: more than any form a person
	// fills in has, while the response stays a few KiB however invalid the
	// input.
	MaxFieldErrors int
	// ShutdownTimeout bounds the graceful shutdown Run starts when its
	// context ends (in-flight requests finishing, WebSockets closing with
	// 1001); what is left then is dropped. Default 10 s.
	ShutdownTimeout time.Duration
	// WebSocketShutdownCode and WebSocketShutdownReason are the close
	// frame Shutdown (and Run, when its context ends) sends every open
	// WebSocket: default 1001 "server shutting down". Set an application
	// code (4000–4999) or 1012 (service restart) for clients that act on
	// it, as a Tornado app closing every socket with its own code on
	// SIGTERM does. A socket the application is already closing keeps its
	// own code. NewApplication refuses a code that may not be sent.
	WebSocketShutdownCode   int
	WebSocketShutdownReason string
	// BodyStallTimeout is the longest reading a request body may wait for
	// the client's next bytes; default 60 s (nginx's client_body_timeout),
	// negative for no bound. Each read that gets data starts it afresh, so
	// a slow upload that keeps moving is never cut; a stalled one fails the
	// read (wrapping os.ErrDeadlineExceeded) and the connection is closed.
	// It is set per request through http.ResponseController, so it works
	// on any http.Server the Application is mounted on, and never applies
	// to WebSocket connections. Tornado has no such bound by default
	// (body_timeout=None).
	BodyStallTimeout time.Duration
	// WriteStallTimeout is the longest writing a response may make no
	// progress, e.g. to a client that stopped reading; default 60 s
	// (nginx's send_timeout), negative for no bound. The deadline moves on
	// with every few KiB written, so it caps stalls, not the length of a
	// download: a slow client that keeps reading gets all of a large file.
	// Like BodyStallTimeout it is per request and never applies to
	// WebSockets. Tornado has no write bound.
	WriteStallTimeout time.Duration

	// TrustedProxies lists the reverse proxies, as CIDR prefixes
	// ("10.0.0.0/8") or addresses ("127.0.0.1"), whose forwarding headers
	// are believed: for a request whose TCP peer is one of them,
	// X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host give
	// RemoteIP, Protocol and Host, which the default CheckOrigin, absolute
	// URLs and Route.Host use. Empty, the default, trusts no one (Tornado's
	// xheaders=False); the headers of any other peer are ignored, since
	// clients can forge them. See docs/deploy.md.
	TrustedProxies []string
	// UseForwardedHeader reads the RFC 7239 Forwarded header from trusted
	// proxies instead of the X-Forwarded-* headers. Set it only if your
	// proxies write Forwarded, since a proxy that passes the client's
	// Forwarded through unchanged lets the client choose its address.
	UseForwardedHeader bool

	// WebSocketPingInterval, if positive, pings every WebSocket peer this
	// often (default: no pings).
	WebSocketPingInterval time.Duration
	// WebSocketPingTimeout closes a connection whose peer has not answered
	// a ping within it; default WebSocketPingInterval.
	WebSocketPingTimeout time.Duration
	// WebSocketMaxMessageSize is the largest message accepted, counted
	// after decompression; default 10 MiB. Larger messages close the
	// connection with 1009.
	WebSocketMaxMessageSize int64
	// WebSocketMaxMessageFragments is the most frames a received message
	// may span; more close the connection with 1008. Zero means one per
	// 64 bytes of WebSocketMaxMessageSize and at least 1024 (163,840 by
	// default), a negative value no limit
	// (websocket.ConnOptions.MaxFragments).
	WebSocketMaxMessageFragments int64
	// WebSocketSendQueueSize bounds, in bytes, what may wait to be sent to
	// one peer: a write that would queue more fails with ErrSendQueueFull
	// and the connection is closed with 1008. The default is 16 MiB, or
	// twice WebSocketMaxMessageSize when that is larger, so that a reader
	// draining a burst of relayed maximum-size messages is never closed
	// for it. Frames of a Broadcast or a hub room are shared by every
	// connection they are queued on, so the memory a burst takes is paid
	// once, not once per member; this bound is what one peer may pin.
	WebSocketSendQueueSize int
	// WebSocketSendTimeout closes, with 1008, a connection that has had
	// something waiting to be sent for this long without the peer taking
	// any of it (a frame, or at most 1 MiB of frames): a peer that has
	// stopped reading. Default 30 s; a peer that reads, however slowly,
	// is kept, and a negative value turns the check off.
	WebSocketSendTimeout time.Duration
	// WebSocketInboxSize bounds, in bytes, the received messages that may
	// wait for OnMessage while it is busy with an earlier one; beyond it
	// the connection stops reading until OnMessage catches up, which
	// pushes back on the peer through TCP (Tornado reads the next message
	// only when on_message has returned). Default 64 KiB; one message of
	// any allowed size is always taken.
	WebSocketInboxSize int
	// WebSocketCloseTimeout is how long a close handshake may take before
	// the TCP connection is dropped; default 5 s.
	WebSocketCloseTimeout time.Duration
	// WebSocketCompression turns on permessage-deflate for WebSocket
	// handlers that do not override CompressionOptions (Tornado's
	// get_compression_options); nil, the default, leaves it off. With
	// context takeover (the zero CompressionOptions) each connection keeps
	// a compressor of several hundred KiB once it has sent a compressed
	// message; set ServerNoContextTakeover for many connections.
	WebSocketCompression *websocket.CompressionOptions
	// HTTP2 makes ListenAndServeTLS and ServeTLS offer HTTP/2 (ALPN "h2")
	// beside HTTP/1.1, with WebSockets over HTTP/2 (RFC 8441): a browser
	// then opens each WebSocket as a stream of the page's own connection,
	// with no TCP and TLS handshake of its own. WebSocket handlers work
	// the same over either protocol (over HTTP/2 the handshake answers 200
	// instead of 101, and closing a socket ends its stream, not the
	// connection). net/http offers the extended CONNECT this takes only in
	// a process started with GODEBUG=http2xconnect=1: it reads the variable
	// once, at start-up, and nothing can turn it on later (neither
	// os.Setenv nor a //go:debug line reaches it). Without it browsers
	// would quietly fall back to one HTTP/1.1 connection per WebSocket, so
	// NewApplication refuses HTTP2 in such a process.
	//
	// Off by default, for three reasons: it needs that variable; an
	// HTTP/2 WebSocket costs more server memory than a hijacked HTTP/1.1
	// one (net/http ends a stream when its handler returns, so each socket
	// keeps a goroutine and the stream's buffers; see BENCHMARKS.md); and
	// a connection carries at most HTTP2MaxConcurrentStreams sockets and
	// requests at once.
	// Behind a proxy that terminates TLS, set it only if the proxy speaks
	// RFC 8441 to the application (see docs/deploy.md).
	HTTP2 bool
	// HTTP2MaxConcurrentStreams bounds the streams one HTTP/2 connection
	// may have open at once, each WebSocket on it one of them for its
	// whole life: a browser that needs more opens another connection.
	// Default 250, net/http's own (http.HTTP2Config.MaxConcurrentStreams);
	// raise it for a page, or a proxy speaking RFC 8441 to the
	// application, that holds more sockets on one connection.
	HTTP2MaxConcurrentStreams int
}

// Defaults of Settings fields, applied by WithDefaults.
const (
	DefaultStaticURLPrefix           = "/static/"
	DefaultMaxBodySize               = 100 << 20
	DefaultMaxFormMemory             = 10 << 20
	DefaultMaxArguments              = 10000
	DefaultMaxJSONElements           = 10000
	DefaultMaxFieldErrors            = 100
	DefaultBodyStallTimeout          = 60 * time.Second
	DefaultWriteStallTimeout         = 60 * time.Second
	DefaultWebSocketMaxMessageSize   = 10 << 20
	DefaultWebSocketSendQueueSize    = 16 << 20
	DefaultWebSocketSendTimeout      = 30 * time.Second
	DefaultWebSocketInboxSize        = 64 << 10
	DefaultWebSocketCloseTimeout     = 5 * time.Second
	DefaultHTTP2MaxConcurrentStreams = 250
	DefaultShutdownTimeout           = 10 * time.Second
)

// WithDefaults returns a copy of s with every zero field that has a default
// set to it; Application.Settings returns this form.
func (s Settings) WithDefaults() Settings {
	if s.StaticURLPrefix == "" {
		s.StaticURLPrefix = DefaultStaticURLPrefix
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	positiveOr(&s.MaxBodySize, DefaultMaxBodySize)
	positiveOr(&s.MaxFormMemory, DefaultMaxFormMemory)
	positiveOr(&s.MaxArguments, DefaultMaxArguments)
	positiveOr(&s.MaxJSONElements, DefaultMaxJSONElements)
	positiveOr(&s.MaxFieldErrors, DefaultMaxFieldErrors)
	if s.BodyStallTimeout == 0 {
		s.BodyStallTimeout = DefaultBodyStallTimeout
	}
	if s.WriteStallTimeout == 0 {
		s.WriteStallTimeout = DefaultWriteStallTimeout
	}
	if s.WebSocketPingTimeout <= 0 {
		s.WebSocketPingTimeout = s.WebSocketPingInterval
	}
	positiveOr(&s.WebSocketMaxMessageSize, DefaultWebSocketMaxMessageSize)
	positiveOr(&s.HTTP2MaxConcurrentStreams, DefaultHTTP2MaxConcurrentStreams)
	if s.WebSocketSendQueueSize <= 0 {
		s.WebSocketSendQueueSize = int(max(DefaultWebSocketSendQueueSize, 2*s.WebSocketMaxMessageSize))
	}
	if s.WebSocketSendTimeout == 0 {
		s.WebSocketSendTimeout = DefaultWebSocketSendTimeout
	}
	positiveOr(&s.WebSocketInboxSize, DefaultWebSocketInboxSize)
	positiveOr(&s.WebSocketCloseTimeout, DefaultWebSocketCloseTimeout)
	positiveOr(&s.ShutdownTimeout, DefaultShutdownTimeout)
	return s
}

// shutdownClose is the close code and reason Shutdown sends WebSockets.
func (s Settings) shutdownClose() (websocket.StatusCode, string) {
	if s.WebSocketShutdownCode == 0 {
		return websocket.StatusGoingAway, "server shutting down"
	}
	return websocket.StatusCode(s.WebSocketShutdownCode), s.WebSocketShutdownReason
}

// positiveOr sets *v to def unless it is positive: the zero value, and a
// negative one, mean the default.
func positiveOr[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// errSettings is wrapped by every error NewApplication returns for
// inconsistent settings.
var errSettings = errors.New("tornago: invalid settings")

// cookieCodec builds the secure-cookie codec the settings ask for; nil (and
// no error) when no secret is configured.
func (s Settings) cookieCodec() (cookies.Codec, error) {
	if s.CookieCodec != nil {
		if s.CookieSecret != "" || len(s.CookieSecrets) > 0 {
			return nil, fmt.Errorf("%w: CookieCodec holds its own keys; set it or CookieSecret/CookieSecrets, not both", errSettings)
		}
		return s.CookieCodec, nil
	}
	if s.CookieSecret != "" && len(s.CookieSecrets) > 0 {
		return nil, fmt.Errorf("%w: set CookieSecret or CookieSecrets, not both", errSettings)
	}
	var keys cookies.KeySet
	switch {
	case s.CookieSecret != "":
		keys = cookies.SingleKey(s.CookieSecret) // Tornado ignores key_version for a plain secret
	case len(s.CookieSecrets) > 0:
		if _, ok := s.CookieSecrets[s.KeyVersion]; !ok {
			return nil, fmt.Errorf("%w: KeyVersion %d is not a key of CookieSecrets", errSettings, s.KeyVersion)
		}
		keys = cookies.KeySet{Keys: s.CookieSecrets, Current: s.KeyVersion}
	default:
		return nil, nil
	}
	c, err := cookies.NewSecureCookieCodec(keys)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSettings, err)
	}
	return c, nil
}
