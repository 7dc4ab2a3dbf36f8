package cookies

import "errors"

// Sentinel errors returned (wrapped) by the codecs; test for them with
// errors.Is. Decode never returns the cookie value inside an error, so errors
// are safe to log.
var (
	// ErrConfig reports an unusable KeySet or option passed to a constructor.
	ErrConfig = errors.New("cookies: invalid configuration")

	// ErrMalformed reports a value that is empty or not in the codec's
	// format: bad structure, a non-decimal number, bad base64, a signature of
	// the wrong length. Values that Tornado would parse only through Python's
	// lenient int() or base64 decoding (leading zeros in lengths, stray
	// characters) are malformed here too; no encoder produces them.
	ErrMalformed = errors.New("cookies: malformed signed value")

	// ErrTooLong reports a value longer than the codec's maximum length
	// (WithMaxLength), on Encode or Decode.
	ErrTooLong = errors.New("cookies: value too long")

	// ErrInvalidName reports a cookie name the format cannot carry: a
	// newline in a Tornado v2 name makes the value unreadable (Tornado's
	// version check stops at newlines), so Encode refuses it.
	ErrInvalidName = errors.New("cookies: invalid cookie name")

	// ErrUnsupportedVersion reports a Tornado format version other than 1 or
	// 2, or one below the codec's minimum (WithMinVersion).
	ErrUnsupportedVersion = errors.New("cookies: unsupported signed value version")

	// ErrUnknownKey reports a Tornado v2 value that names a key version the
	// KeySet does not hold: a key retired from rotation, or a value from
	// another application.
	ErrUnknownKey = errors.New("cookies: unknown key version")

	// ErrInvalidSignature reports a MAC that does not match: the value was
	// tampered with or signed with another secret. Version 1 values and
	// gorilla/securecookie values also end here when signed for another
	// cookie name (the name is part of the MAC), and gorilla/securecookie
	// values signed with a key missing from the KeySet do too (that format
	// does not name its key).
	ErrInvalidSignature = errors.New("cookies: invalid signature")

	// ErrWrongName reports a correctly signed Tornado v2 value that was issued
	// for another cookie name, e.g. a "user" cookie replayed as "admin".
	ErrWrongName = errors.New("cookies: value signed for another cookie name")

	// ErrExpired reports a correctly signed value older than the max age.
	ErrExpired = errors.New("cookies: signed value expired")

	// ErrBadTimestamp reports a correctly signed Tornado v1 value whose
	// timestamp is more than 31 days in the future or starts with "0". The v1
	// MAC has no separators between its fields, so these are the marks of
	// digits moved between the value and the timestamp: tampering, which
	// Tornado rejects with the same two checks.
	ErrBadTimestamp = errors.New("cookies: signed value timestamp tampered with")
)
