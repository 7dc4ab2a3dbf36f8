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
	// CookieCodec, if set, replaces the codec built from the secrets; use
	// cookies.NewTornadoCodec to share cookies with a Tornado application.
	// When nil, secure cookies use the gorilla/securecookie codec.
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
	// TemplatePath is the directory Render loads html/template files from.
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
	// slog.New(slog.DiscardHandler) to silence it.
	Logger *slog.Logger
	// DefaultHandler serves requests no route matches (Tornado's
	// default_handler_class); nil answers 404 with the default error page.
	DefaultHandler Factory
	// MaxBodySize caps request bodies in bytes (Tornado's max_body_size,
	// default 100 MiB); a larger body is answered with 413.
	MaxBodySize int64

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
	// one peer; default 1 MiB. A peer that falls further behind is closed.
	WebSocketSendQueueSize int
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
}

// Defaults of Settings fields, applied by WithDefaults.
const (
	DefaultStaticURLPrefix         = "/static/"
	DefaultMaxBodySize             = 100 << 20
	DefaultWebSocketMaxMessageSize = 10 << 20
	DefaultWebSocketSendQueueSize  = 1 << 20
	DefaultWebSocketCloseTimeout   = 5 * time.Second
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
	if s.MaxBodySize <= 0 {
		s.MaxBodySize = DefaultMaxBodySize
	}
	if s.WebSocketPingTimeout <= 0 {
		s.WebSocketPingTimeout = s.WebSocketPingInterval
	}
	if s.WebSocketMaxMessageSize <= 0 {
		s.WebSocketMaxMessageSize = DefaultWebSocketMaxMessageSize
	}
	if s.WebSocketSendQueueSize <= 0 {
		s.WebSocketSendQueueSize = DefaultWebSocketSendQueueSize
	}
	if s.WebSocketCloseTimeout <= 0 {
		s.WebSocketCloseTimeout = DefaultWebSocketCloseTimeout
	}
	return s
}

// errSettings is wrapped by every error NewApplication returns for
// inconsistent settings.
var errSettings = errors.New("tornago: invalid settings")

// cookieCodec builds the secure-cookie codec the settings ask for; nil (and
// no error) when no secret is configured.
func (s Settings) cookieCodec() (cookies.Codec, error) {
	if s.CookieCodec != nil {
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
