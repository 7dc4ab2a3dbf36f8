package cookies

import (
	"bytes"
	"crypto/aes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/securecookie"
)

// HKDF info strings for deriving gorilla/securecookie keys from a secret.
// They are part of the wire contract: another program derives the same keys
// with HKDF-SHA256(secret, salt = none, info, 32 bytes).
const (
	// HashKeyInfo derives the HMAC-SHA256 key when values are not encrypted.
	HashKeyInfo = "tornago/cookies securecookie hash key"
	// EncryptedHashKeyInfo derives the HMAC-SHA256 key when they are, so
	// that a codec with the other setting rejects the value.
	EncryptedHashKeyInfo = "tornago/cookies securecookie hash key (encrypted)"
	// BlockKeyInfo derives the AES-256 key.
	BlockKeyInfo = "tornago/cookies securecookie block key"
)

// SecureCookieCodec signs, and optionally encrypts, values with
// github.com/gorilla/securecookie, in its standard format: URL-safe base64 of
// "timestamp|base64(payload)|HMAC-SHA256(name|timestamp|base64(payload))",
// where payload is the raw value or, with WithEncryption, AES-256-CTR with a
// random IV prepended. Each secret in the KeySet yields a 32-byte hash key
// (and block key) through HKDF-SHA256 with the *Info constants, so a short
// secret still gives full-size keys, but no more entropy than it has: use
// long random secrets.
//
// The format does not name its key, so Decode tries the current key first
// and then the others. Values are stamped by gorilla/securecookie with the
// system clock; Decode checks their age itself against the codec's clock.
//
// A SecureCookieCodec is immutable and safe for concurrent use.
type SecureCookieCodec struct {
	current   *securecookie.SecureCookie
	all       []*securecookie.SecureCookie // decode order
	encrypt   bool
	now       func() time.Time
	maxAge    time.Duration
	maxLength int
}

var _ Codec = (*SecureCookieCodec)(nil)

// NewSecureCookieCodec returns a gorilla/securecookie codec with keys. It
// fails with ErrConfig for an invalid KeySet or option.
func NewSecureCookieCodec(keys KeySet, opts ...SecureCookieOption) (*SecureCookieCodec, error) {
	ks, err := keys.validate()
	if err != nil {
		return nil, err
	}
	c := defaultConfig()
	c.maxLength = DefaultSecureCookieMaxLength
	for _, o := range opts {
		o.applySecureCookie(&c)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	codec := &SecureCookieCodec{encrypt: c.encrypt, now: c.now, maxAge: c.maxAge, maxLength: c.maxLength}
	for _, v := range ks.decodeOrder() {
		sc, err := newGorilla(ks.Keys[v], c.encrypt)
		if err != nil {
			return nil, fmt.Errorf("%w: key version %d: %w", ErrConfig, v, err)
		}
		codec.all = append(codec.all, sc)
	}
	codec.current = codec.all[0]
	return codec, nil
}

// newGorilla derives the keys for secret and configures a gorilla codec whose
// own age and length checks are off: the codec does them, with its clock.
func newGorilla(secret string, encrypt bool) (*securecookie.SecureCookie, error) {
	info := HashKeyInfo
	if encrypt {
		info = EncryptedHashKeyInfo
	}
	hashKey, err := hkdf.Key(sha256.New, []byte(secret), nil, info, 32)
	if err != nil {
		return nil, err
	}
	var blockKey []byte
	if encrypt {
		if blockKey, err = hkdf.Key(sha256.New, []byte(secret), nil, BlockKeyInfo, 32); err != nil {
			return nil, err
		}
	}
	return securecookie.New(hashKey, blockKey).
		SetSerializer(securecookie.NopEncoder{}).
		MaxAge(0).
		MaxLength(0), nil
}

// Encode signs (and with WithEncryption encrypts) value for the cookie name
// with the current key. It fails with ErrTooLong when the result exceeds the
// max length (4096 bytes by default).
func (c *SecureCookieCodec) Encode(name string, value []byte) (string, error) {
	// With a block key, gorilla/securecookie encrypts the serialized value in
	// place, and its NopEncoder serializes to the caller's own slice: copy.
	s, err := c.current.Encode(name, append([]byte{}, value...))
	if err != nil {
		return "", fmt.Errorf("cookie %q: cookies: securecookie: %w", name, err)
	}
	if c.maxLength > 0 && len(s) > c.maxLength {
		return "", fmt.Errorf("cookie %q: %w: encoded length %d exceeds %d", name, ErrTooLong, len(s), c.maxLength)
	}
	return s, nil
}

// Decode verifies (and decrypts) a value for the cookie name and returns it.
// maxAge <= 0 means the codec's max age (31 days unless set with
// WithMaxAge).
func (c *SecureCookieCodec) Decode(name, value string, maxAge time.Duration) ([]byte, error) {
	b, err := c.decode(name, value, maxAge)
	if err != nil {
		return nil, fmt.Errorf("cookie %q: %w", name, err)
	}
	return b, nil
}

func (c *SecureCookieCodec) decode(name, value string, maxAge time.Duration) ([]byte, error) {
	if value == "" {
		return nil, fmt.Errorf("%w: empty value", ErrMalformed)
	}
	if c.maxLength > 0 && len(value) > c.maxLength {
		return nil, fmt.Errorf("%w: length %d exceeds %d", ErrTooLong, len(value), c.maxLength)
	}
	if maxAge <= 0 {
		maxAge = c.maxAge
	}
	stamp, payloadLen, err := parseGorilla(value)
	if err != nil {
		if v := tornadoShape(value); v != 0 {
			// The usual porting mistake: cookies a Tornado application set,
			// read with the default codec. Say so instead of "illegal base64".
			return nil, fmt.Errorf("%w: a Tornado version %d signed value, which SecureCookieCodec does not read; "+
				"read Tornado's cookies with cookies.NewTornadoCodec (in tornago: Settings.CookieCodec)", ErrMalformed, v)
		}
		return nil, err
	}
	for _, sc := range c.all {
		var out []byte
		err := sc.Decode(name, value, &out)
		if errors.Is(err, securecookie.ErrMacInvalid) {
			continue
		}
		// The MAC matched: everything after it was written by us.
		ts, ok := parseDecimal(string(stamp))
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: timestamp is not a decimal number", ErrMalformed)
		case expired(ts, c.now(), maxAge):
			return nil, fmt.Errorf("%w: older than %v", ErrExpired, maxAge)
		case err != nil && c.encrypt && payloadLen == aes.BlockSize:
			// gorilla/securecookie encrypts an empty value to its IV alone
			// but refuses to decrypt anything not longer than the IV.
			return []byte{}, nil
		case err != nil:
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		if out == nil {
			out = []byte{}
		}
		return out, nil
	}
	return nil, ErrInvalidSignature
}

// parseGorilla checks the outer structure of a securecookie value and
// returns its (unverified) timestamp and the decoded length of its payload,
// so that structural damage reads as ErrMalformed, not as a bad MAC.
func parseGorilla(value string) (stamp []byte, payloadLen int, err error) {
	raw, err := base64.URLEncoding.DecodeString(value)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: base64: %w", ErrMalformed, err)
	}
	stamp, rest, ok := bytes.Cut(raw, []byte("|"))
	if !ok {
		return nil, 0, fmt.Errorf("%w: no timestamp", ErrMalformed)
	}
	payload, mac, ok := bytes.Cut(rest, []byte("|"))
	if !ok || len(mac) != sha256.Size {
		return nil, 0, fmt.Errorf("%w: no MAC", ErrMalformed)
	}
	decoded, err := base64.URLEncoding.DecodeString(string(payload))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: payload base64: %w", ErrMalformed, err)
	}
	return stamp, len(decoded), nil
}
