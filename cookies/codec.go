package cookies

import "time"

// Codec turns a cookie's name and payload into a tamper-proof cookie value
// and back. Both codecs in this package implement it; an Application uses
// one for SetSecureCookie and GetSecureCookie.
//
// Implementations must be safe for concurrent use, must never panic on any
// input to Decode, and must compare MACs in constant time.
type Codec interface {
	// Encode signs (and maybe encrypts) value for the cookie name and
	// stamps it with the time. For a name that is an HTTP token, as cookie
	// names must be, the result consists of RFC 6265 cookie-octets.
	Encode(name string, value []byte) (string, error)

	// Decode verifies value as issued for the cookie name and returns the
	// payload. A value older than maxAge fails with ErrExpired; maxAge <= 0
	// means the codec's default (31 days, as get_secure_cookie's
	// max_age_days). Errors wrap this package's sentinels.
	Decode(name, value string, maxAge time.Duration) ([]byte, error)
}
