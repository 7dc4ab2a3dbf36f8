package cookies

import (
	"fmt"
	"time"
)

// DefaultMaxAge is how old a value may be when Decode is given no max age:
// 31 days, Tornado's get_secure_cookie default, for both codecs.
const DefaultMaxAge = 31 * 24 * time.Hour

// DefaultSecureCookieMaxLength is gorilla/securecookie's limit on encoded
// values, 4096 bytes, about what browsers keep for one cookie.
const DefaultSecureCookieMaxLength = 4096

// config holds the settings of either codec; the option interfaces decide
// which constructor may set what.
type config struct {
	now        func() time.Time
	maxAge     time.Duration
	maxLength  int
	version    int
	minVersion int
	encrypt    bool
}

// TornadoOption configures NewTornadoCodec.
type TornadoOption interface{ applyTornado(*config) }

// SecureCookieOption configures NewSecureCookieCodec.
type SecureCookieOption interface{ applySecureCookie(*config) }

// Option configures either codec.
type Option interface {
	TornadoOption
	SecureCookieOption
}

type commonOption func(*config)

func (o commonOption) applyTornado(c *config)      { o(c) }
func (o commonOption) applySecureCookie(c *config) { o(c) }

type tornadoOption func(*config)

func (o tornadoOption) applyTornado(c *config) { o(c) }

type secureCookieOption func(*config)

func (o secureCookieOption) applySecureCookie(c *config) { o(c) }

// WithClock sets the clock that Decode measures age against and, for the
// Tornado codec, the one that stamps new values. gorilla/securecookie always
// stamps with the system clock. Tests use it to pin time; nil means time.Now.
func WithClock(now func() time.Time) Option {
	return commonOption(func(c *config) { c.now = now })
}

// WithMaxAge sets the age beyond which Decode rejects values with ErrExpired
// when called with maxAge <= 0. The default is DefaultMaxAge; d must be
// positive.
func WithMaxAge(d time.Duration) Option {
	return commonOption(func(c *config) { c.maxAge = d })
}

// WithMaxLength makes Encode refuse, and Decode reject, values longer than n
// bytes, with ErrTooLong; 0 means no limit. The default is
// DefaultSecureCookieMaxLength for the securecookie codec and no limit for
// the Tornado codec, as in Tornado.
func WithMaxLength(n int) Option {
	return commonOption(func(c *config) { c.maxLength = n })
}

// WithVersion selects the Tornado format Encode writes: 2 (the default,
// HMAC-SHA256 with the key version in the value) or 1 (HMAC-SHA1, for
// Tornado releases before 3.2.1; it cannot name a key, so Decode tries every
// key in the set).
func WithVersion(v int) TornadoOption {
	return tornadoOption(func(c *config) { c.version = v })
}

// WithMinVersion makes Decode reject Tornado values older than format v (1 or
// 2) with ErrUnsupportedVersion, as get_secure_cookie's min_version. The
// default, 1, accepts both.
func WithMinVersion(v int) TornadoOption {
	return tornadoOption(func(c *config) { c.minVersion = v })
}

// WithEncryption makes the securecookie codec encrypt values (AES-256 in CTR
// mode, then MAC) with a block key derived from each secret, so clients
// cannot read them. Turning it on or off invalidates existing cookies: the
// hash key derivation depends on it, so old values fail with
// ErrInvalidSignature rather than decoding to garbage.
func WithEncryption() SecureCookieOption {
	return secureCookieOption(func(c *config) { c.encrypt = true })
}

func defaultConfig() config {
	return config{now: time.Now, maxAge: DefaultMaxAge, version: 2, minVersion: 1}
}

// check validates the settings shared by both codecs.
func (c *config) check() error {
	if c.now == nil {
		c.now = time.Now
	}
	if c.maxAge <= 0 {
		return fmt.Errorf("%w: max age %v is not positive", ErrConfig, c.maxAge)
	}
	if c.maxLength < 0 {
		return fmt.Errorf("%w: max length %d is negative", ErrConfig, c.maxLength)
	}
	return nil
}

// expired reports whether a value stamped at ts (Unix seconds) is more than
// maxAge old at now: Tornado's `timestamp < clock() - max_age` with its
// fractional clock, in integer arithmetic that cannot overflow.
func expired(ts int64, now time.Time, maxAge time.Duration) bool {
	cutoff := now.Add(-maxAge)
	sec := cutoff.Unix()
	return ts < sec || (ts == sec && cutoff.Nanosecond() > 0)
}

// tooFarAhead reports whether ts lies more than d after now, Tornado's
// `timestamp > clock() + d`.
func tooFarAhead(ts int64, now time.Time, d time.Duration) bool {
	return ts > now.Add(d).Unix()
}
