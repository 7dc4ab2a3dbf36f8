package cookies

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Tornado's v1 format is HMAC-SHA1; compatibility is the point.
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// v1FutureLimit is how far ahead of the clock a v1 timestamp may lie; fixed
// by Tornado at 31 days whatever the max age.
const v1FutureLimit = 31 * 24 * time.Hour

// Signature lengths in hex digits.
const (
	v1SigLen = 2 * sha1.Size
	v2SigLen = 2 * sha256.Size
)

// TornadoCodec reads and writes Tornado's signed values byte for byte, as
// tornado.web.create_signed_value and decode_signed_value (Tornado 3.2.1
// through 6.x) do, so that a Tornado application and its tornago port can
// share cookies.
//
// Version 2 (the default) is
//
//	2|<len>:<key version>|<len>:<timestamp>|<len>:<name>|<len>:<base64 value>|<hex HMAC-SHA256>
//
// signed over everything before the signature with Keys[key version].
// Version 1 is <base64 value>|<timestamp>|<hex HMAC-SHA1 of name, value and
// timestamp concatenated>. Values are not encrypted: anyone can read them.
//
// Version 1 names no key, so, as in Tornado, it is used only with a plain
// secret (SingleKey): with a key set (Tornado's dict cookie_secret, which
// makes Tornado fail an assertion on a v1 value) Decode refuses v1 values
// with ErrUnsupportedVersion and NewTornadoCodec refuses WithVersion(1).
// Keeping a secret that signed v1 cookies in a rotated set would otherwise
// keep accepting the weaker, key-less format for as long as that secret
// stays.
//
// Departures from Tornado, all on inputs no Tornado encoder writes:
// non-canonical numbers and base64 that Python would still parse are
// ErrMalformed; a v2 value naming a key version the KeySet lacks is
// ErrUnknownKey even with a single key (Tornado ignores the version when its
// secret is a plain string); and a v2 name
// containing non-ASCII characters is length-prefixed with its byte count,
// which Tornado's own decoder reads, where its encoder writes the code-point
// count and cannot decode the result.
//
// A TornadoCodec is immutable and safe for concurrent use.
type TornadoCodec struct {
	keys       KeySet
	now        func() time.Time
	maxAge     time.Duration
	maxLength  int
	version    int
	minVersion int
}

var _ Codec = (*TornadoCodec)(nil)

// NewTornadoCodec returns a codec for Tornado signed values with keys. It
// fails with ErrConfig for an invalid KeySet or option.
func NewTornadoCodec(keys KeySet, opts ...TornadoOption) (*TornadoCodec, error) {
	ks, err := keys.validate()
	if err != nil {
		return nil, err
	}
	c := defaultConfig()
	for _, o := range opts {
		o.applyTornado(&c)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.version != 1 && c.version != 2 {
		return nil, fmt.Errorf("%w: Tornado format version %d (want 1 or 2)", ErrConfig, c.version)
	}
	if c.minVersion != 1 && c.minVersion != 2 {
		return nil, fmt.Errorf("%w: Tornado min version %d (want 1 or 2)", ErrConfig, c.minVersion)
	}
	if c.version == 1 && !ks.plain {
		return nil, fmt.Errorf("%w: Tornado format version 1 needs a plain secret (SingleKey), not a key set", ErrConfig)
	}
	return &TornadoCodec{
		keys: ks, now: c.now, maxAge: c.maxAge,
		maxLength: c.maxLength, version: c.version, minVersion: c.minVersion,
	}, nil
}

// Encode signs value for the cookie name with the current key, stamped with
// the codec's clock, in the codec's format version. A v2 name containing a
// newline fails with ErrInvalidName.
func (c *TornadoCodec) Encode(name string, value []byte) (string, error) {
	if c.version == 2 && strings.ContainsRune(name, '\n') {
		return "", fmt.Errorf("%w: %q contains a newline", ErrInvalidName, name)
	}
	s := c.encodeAt(c.version, c.keys.Current, c.now().Unix(), name, value)
	if c.maxLength > 0 && len(s) > c.maxLength {
		return "", fmt.Errorf("%w: cookie %q: encoded length %d exceeds %d", ErrTooLong, name, len(s), c.maxLength)
	}
	return s, nil
}

// encodeAt is create_signed_value with every input explicit.
func (c *TornadoCodec) encodeAt(version, keyVersion int, ts int64, name string, value []byte) string {
	stamp := strconv.FormatInt(ts, 10)
	b64 := base64.StdEncoding.EncodeToString(value)
	secret := c.keys.Keys[keyVersion]
	if version == 1 {
		return b64 + "|" + stamp + "|" + signV1(secret, name, b64, stamp)
	}
	var b strings.Builder
	b.WriteString("2|")
	for _, f := range []string{strconv.Itoa(keyVersion), stamp, name, b64} {
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
		b.WriteByte('|')
	}
	toSign := b.String()
	return toSign + signV2(secret, toSign)
}

// Decode verifies a Tornado signed value for the cookie name and returns its
// payload. maxAge <= 0 means the codec's max age (31 days unless set with
// WithMaxAge), like get_secure_cookie's max_age_days.
func (c *TornadoCodec) Decode(name, value string, maxAge time.Duration) ([]byte, error) {
	b, err := c.decode(name, value, maxAge)
	if err != nil {
		return nil, fmt.Errorf("cookie %q: %w", name, err)
	}
	return b, nil
}

func (c *TornadoCodec) decode(name, value string, maxAge time.Duration) ([]byte, error) {
	if value == "" {
		return nil, fmt.Errorf("%w: empty value", ErrMalformed)
	}
	if c.maxLength > 0 && len(value) > c.maxLength {
		return nil, fmt.Errorf("%w: length %d exceeds %d", ErrTooLong, len(value), c.maxLength)
	}
	if maxAge <= 0 {
		maxAge = c.maxAge
	}
	version := signedValueVersion(value)
	if version < c.minVersion {
		return nil, fmt.Errorf("%w: version %d is below the minimum %d", ErrUnsupportedVersion, version, c.minVersion)
	}
	switch version {
	case 1:
		if !c.keys.plain {
			return nil, fmt.Errorf("%w: version 1 with a key set (Tornado accepts it only with a plain secret)", ErrUnsupportedVersion)
		}
		return c.decodeV1(name, value, maxAge)
	case 2:
		return c.decodeV2(name, value, maxAge)
	default:
		return nil, fmt.Errorf("%w: version %d", ErrUnsupportedVersion, version)
	}
}

// KeyVersion returns the key version a v2 value names, without verifying its
// signature (Tornado's get_signature_key_version): use it after Decode
// succeeds to re-issue cookies signed with a key being retired. Version 1
// values name no key and give ErrUnsupportedVersion.
func (c *TornadoCodec) KeyVersion(value string) (int, error) {
	if v := signedValueVersion(value); v != 2 {
		return 0, fmt.Errorf("%w: version %d values do not name a key", ErrUnsupportedVersion, v)
	}
	f, err := parseV2(value)
	if err != nil {
		return 0, err
	}
	return f.keyVersion, nil
}

func (c *TornadoCodec) decodeV1(name, value string, maxAge time.Duration) ([]byte, error) {
	parts := strings.SplitN(value, "|", 4)
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: version 1 value does not have 3 fields", ErrMalformed)
	}
	b64, stamp, sig := parts[0], parts[1], parts[2]
	ts, ok := parseDecimal(stamp)
	if !ok {
		return nil, fmt.Errorf("%w: timestamp is not a decimal number", ErrMalformed)
	}
	if len(sig) != v1SigLen {
		return nil, fmt.Errorf("%w: signature has %d characters, want %d", ErrMalformed, len(sig), v1SigLen)
	}
	if !hmac.Equal([]byte(sig), []byte(signV1(c.keys.Keys[c.keys.Current], name, b64, stamp))) {
		return nil, ErrInvalidSignature
	}
	// Tornado's order: expiry, then the two checks for digits moved between
	// the value and the timestamp.
	now := c.now()
	if expired(ts, now, maxAge) {
		return nil, fmt.Errorf("%w: older than %v", ErrExpired, maxAge)
	}
	if tooFarAhead(ts, now, v1FutureLimit) {
		return nil, fmt.Errorf("%w: more than %v in the future", ErrBadTimestamp, v1FutureLimit)
	}
	if stamp[0] == '0' {
		return nil, fmt.Errorf("%w: leading zero", ErrBadTimestamp)
	}
	return decodeBase64(b64)
}

func (c *TornadoCodec) decodeV2(name, value string, maxAge time.Duration) ([]byte, error) {
	f, err := parseV2(value)
	if err != nil {
		return nil, err
	}
	secret, ok := c.keys.Keys[f.keyVersion]
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownKey, f.keyVersion)
	}
	if !hmac.Equal([]byte(f.sig), []byte(signV2(secret, f.signed))) {
		return nil, ErrInvalidSignature
	}
	if f.name != name {
		return nil, ErrWrongName
	}
	if expired(f.timestamp, c.now(), maxAge) {
		return nil, fmt.Errorf("%w: older than %v", ErrExpired, maxAge)
	}
	return decodeBase64(f.value)
}

// v2Fields is a parsed version 2 value; signed is the prefix the signature
// covers.
type v2Fields struct {
	keyVersion int
	timestamp  int64
	name       string
	value      string
	sig        string
	signed     string
}

// parseV2 splits a value that starts with "2|" into its fields, as
// Tornado's _decode_fields_v2 but accepting only canonical numbers.
func parseV2(value string) (v2Fields, error) {
	rest, ok := strings.CutPrefix(value, "2|")
	if !ok {
		return v2Fields{}, fmt.Errorf("%w: missing version 2 prefix", ErrMalformed)
	}
	var fields [4]string
	for i := range fields {
		var err error
		if fields[i], rest, err = consumeField(rest); err != nil {
			return v2Fields{}, err
		}
	}
	keyVersion, ok := parseCanonical(fields[0])
	if !ok || keyVersion > math.MaxInt32 {
		return v2Fields{}, fmt.Errorf("%w: bad key version", ErrMalformed)
	}
	ts, ok := parseCanonical(fields[1])
	if !ok {
		return v2Fields{}, fmt.Errorf("%w: timestamp is not a decimal number", ErrMalformed)
	}
	if len(rest) != v2SigLen {
		return v2Fields{}, fmt.Errorf("%w: signature has %d characters, want %d", ErrMalformed, len(rest), v2SigLen)
	}
	return v2Fields{
		keyVersion: int(keyVersion), timestamp: ts, name: fields[2], value: fields[3],
		sig: rest, signed: value[:len(value)-len(rest)],
	}, nil
}

// consumeField reads one "<len>:<bytes>|" field, Tornado's _consume_field.
func consumeField(s string) (field, rest string, err error) {
	length, rest, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", fmt.Errorf("%w: field without length", ErrMalformed)
	}
	n, ok := parseCanonical(length)
	if !ok {
		return "", "", fmt.Errorf("%w: bad field length", ErrMalformed)
	}
	if n >= int64(len(rest)) || rest[n] != '|' {
		return "", "", fmt.Errorf("%w: field length does not match", ErrMalformed)
	}
	return rest[:n], rest[n+1:], nil
}

// signedValueVersion is Tornado's _get_version: a leading decimal number
// without leading zeros, followed by "|", is the version, except numbers
// above 999 (the start of a version-less v1 value's base64). The rest must
// not hold a newline before its last byte, mirroring Python's `(.*)$`.
func signedValueVersion(value string) int {
	i := 0
	for i < len(value) && value[i] >= '0' && value[i] <= '9' {
		i++
	}
	if i == 0 || value[0] == '0' || i == len(value) || value[i] != '|' || i > 3 {
		return 1
	}
	rest := value[i+1:]
	if nl := strings.IndexByte(rest, '\n'); nl >= 0 && nl != len(rest)-1 {
		return 1
	}
	v, _ := strconv.Atoi(value[:i])
	return v
}

// tornadoShape returns 2 or 1 if value is laid out as a Tornado signed
// value of that version ("2|1:0|10:1700000000|4:name|8:dmFsdWU=|<64 hex>",
// "dmFsdWU=|1700000000|<40 hex>"), signature unchecked; 0 if it is not.
// Neither layout can be a gorilla/securecookie value, whose URL-safe base64
// has no "|".
func tornadoShape(value string) int {
	if signedValueVersion(value) == 2 {
		if _, err := parseV2(value); err == nil {
			return 2
		}
		return 0
	}
	parts := strings.Split(value, "|")
	if len(parts) != 3 || len(parts[2]) != v1SigLen {
		return 0
	}
	if _, ok := parseDecimal(parts[1]); !ok {
		return 0
	}
	if _, err := hex.DecodeString(parts[2]); err != nil {
		return 0
	}
	return 1
}

// parseDecimal parses a non-empty run of ASCII digits. Numbers beyond int64
// saturate at math.MaxInt64, which compares as Python's big ints do here:
// far in the future.
func parseDecimal(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		if n > (math.MaxInt64-int64(d))/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + int64(d)
	}
	return n, true
}

// parseCanonical is parseDecimal refusing leading zeros, as Python's "%d"
// and str(int) never write them.
func parseCanonical(s string) (int64, bool) {
	if len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	return parseDecimal(s)
}

// decodeBase64 decodes standard, padded base64 as Tornado writes it.
func decodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("%w: line break in base64 payload", ErrMalformed)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrMalformed, err)
	}
	return b, nil
}

// signV1 is Tornado's _create_signature_v1.
func signV1(secret string, parts ...string) string {
	h := hmac.New(sha1.New, []byte(secret))
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// signV2 is Tornado's _create_signature_v2.
func signV2(secret, s string) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}
