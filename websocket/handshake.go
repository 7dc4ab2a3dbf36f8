package websocket

import (
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
)

// acceptGUID is the fixed string of RFC 6455 section 1.3 appended to the
// client's key before hashing.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Header names of the handshake as net/http stores them (canonical form,
// "Websocket" with a lower-case s): looked up in this spelling, an
// http.Header finds them without allocating a canonical copy of the name.
const (
	hdrKey        = "Sec-Websocket-Key"
	hdrVersion    = "Sec-Websocket-Version"
	hdrProtocol   = "Sec-Websocket-Protocol"
	hdrExtensions = "Sec-Websocket-Extensions"
	hdrAccept     = "Sec-Websocket-Accept"
)

// acceptKeyLen is the length of a Sec-WebSocket-Accept value: a SHA-1 sum
// (20 bytes) in base64.
const acceptKeyLen = 28

// appendAcceptKey appends the Sec-WebSocket-Accept value for a
// Sec-WebSocket-Key to dst. For keys of a valid length the hash input and
// the sum stay on the stack, so this allocates nothing beyond dst's growth.
func appendAcceptKey(dst []byte, key string) []byte {
	var sum [sha1.Size]byte
	var in [64]byte // a valid key (24 bytes) and the GUID (36) fit
	if len(key)+len(acceptGUID) <= len(in) {
		n := copy(in[:], key)
		n += copy(in[n:], acceptGUID)
		sum = sha1.Sum(in[:n])
	} else {
		h := sha1.New()
		io.WriteString(h, key)
		io.WriteString(h, acceptGUID)
		h.Sum(sum[:0])
	}
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// validKey reports whether key is the base64 encoding of 16 bytes (RFC
// 6455 section 4.2.1, item 5).
func validKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], []byte(key))
	return err == nil && n == 16
}

// headerHasToken reports whether any of the header's comma-separated
// values equals token, compared ASCII-case-insensitively (RFC 7230 section
// 3.2.2 lists; RFC 6455 section 2.1 matches case-insensitively in ASCII
// only, so the Kelvin sign does not stand for a "k").
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if asciiEqualFold(trimOWS(part), token) {
				return true
			}
		}
	}
	return false
}

// headerTokens returns the non-empty comma-separated values of a header.
func headerTokens(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if p := trimOWS(part); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// trimOWS removes the optional whitespace of RFC 7230 section 3.2.3, which
// is spaces and tabs only (strings.TrimSpace would also take Unicode
// spaces such as U+00A0).
func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}

// asciiEqualFold reports whether a and b are equal under ASCII case
// folding.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// isToken reports whether s is a non-empty RFC 7230 token, the form of a
// header name and of a subprotocol.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// scrubHeaderValue replaces control characters (CR and LF above all,
// which would split the header) with spaces, so a value taken from user
// input cannot inject headers into the response.
func scrubHeaderValue(v string) string {
	clean := true
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return v
	}
	b := []byte(v)
	for i, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			b[i] = ' '
		}
	}
	return string(b)
}
