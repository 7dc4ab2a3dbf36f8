// Package cookies signs cookie values so that clients cannot forge or alter
// them: the machinery behind tornago's SetSecureCookie and GetSecureCookie,
// Tornado's set_secure_cookie and get_secure_cookie.
//
// # Two codecs
//
// Both implement Codec and take their secrets as a KeySet.
//
// SecureCookieCodec (NewSecureCookieCodec) is the default. It wraps
// github.com/gorilla/securecookie: HMAC-SHA256 over name, timestamp and
// value, and with WithEncryption also AES-256-CTR, so the client cannot read
// the value either. Choose it for a new application, and whenever a value
// must stay confidential.
//
// TornadoCodec (NewTornadoCodec) writes and reads Tornado's own signed
// values byte for byte, formats 2 (the default, HMAC-SHA256, key version in
// the value) and 1 (HMAC-SHA1, Tornado before 3.2.1). Choose it when porting
// a Tornado application: users keep their sessions, and while the Tornado
// original and the tornago port run side by side behind one domain, each
// reads the cookies the other sets. Tornado values are signed, not
// encrypted; anyone can base64-decode them. Its tests use vectors made by
// real Tornado and, when Python with Tornado is installed, exchange cookies
// with a running Tornado server.
//
// # Keys and rotation
//
// A KeySet maps versions to secrets, with Current the one that signs; it is
// Tornado's dict cookie_secret plus key_version. SingleKey(secret) is the
// plain string cookie_secret (version 0, which is what Tornado writes into
// v2 values signed with a plain secret). Secrets should be long and random
// (32 bytes from crypto/rand, say): an HMAC is only as strong as its key.
//
// To rotate, add the new secret under a new version and make it Current.
// New cookies are signed with it; cookies signed with older versions in the
// set still decode. After the max age has passed (31 days by default), drop
// the old version. How Decode finds the key differs by format:
//
//   - Tornado v2 names its key version; a version missing from the set fails
//     with ErrUnknownKey. TornadoCodec.KeyVersion tells which key signed a
//     value, to re-issue cookies signed with a key about to be retired.
//   - gorilla/securecookie values do not name their key, so Decode tries
//     Current first and then the other versions in ascending order: one
//     HMAC per key.
//   - Tornado v1 values do not name their key either, and Tornado accepts
//     them only with a plain string secret: TornadoCodec reads and writes
//     v1 only with SingleKey, and refuses v1 values with a key set
//     (ErrUnsupportedVersion). Rotating keys therefore ends v1 cookies, as
//     it does in Tornado.
//
// For the securecookie codec each secret yields its HMAC key (and AES key)
// through HKDF-SHA256 with the documented HashKeyInfo, EncryptedHashKeyInfo
// and BlockKeyInfo strings, so any secret length works and another program
// using gorilla/securecookie can derive the same keys.
//
// # Decoding and errors
//
// Decode never panics on hostile input, compares MACs in constant time
// (crypto/hmac.Equal) and fails with an error wrapping exactly one sentinel,
// for errors.Is: ErrMalformed, ErrTooLong, ErrUnsupportedVersion,
// ErrUnknownKey, ErrInvalidSignature, ErrWrongName, ErrExpired or
// ErrBadTimestamp. A tampered value and one signed with a secret the set
// lacks look alike (ErrInvalidSignature), except that a Tornado v2 value
// naming an absent key version is ErrUnknownKey. Only the Tornado v2 format
// can tell a value signed for another cookie name (ErrWrongName); the
// others fold the name into the MAC. Errors carry the cookie name, never
// its value. A Tornado v1 or v2 value given to SecureCookieCodec is
// ErrMalformed with a message that names its format and NewTornadoCodec:
// the usual mistake when a port starts reading a Tornado application's
// cookies.
//
// Values older than the max age fail with ErrExpired: Decode's maxAge
// argument, or when that is zero the codec's (WithMaxAge, default 31 days as
// in Tornado). Like Tornado, only format 1 also refuses timestamps more than
// 31 days ahead or with a leading zero (ErrBadTimestamp): its MAC does not
// separate fields, so digits can be moved between value and timestamp
// without breaking it. Prefer format 2, and once all format 1 cookies have
// expired, refuse them with WithMinVersion(2).
//
// Codecs are immutable and safe for concurrent use. WithClock replaces the
// clock, for tests.
package cookies
