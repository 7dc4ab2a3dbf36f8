package routing

import (
	"strings"
	"unicode/utf8"
)

// maxReprBytes is how much of a bad value Tornado quotes in its 400 message
// (value[:40] in RequestHandler.decode_argument).
const maxReprBytes = 40

// decodeArg turns a raw (percent-encoded) group value into the string a
// handler receives: percent-decoded with "+" left alone, then checked to be
// UTF-8. name is the group name, "" for a positional group; it appears in the
// 400 message as Tornado's does ("url" for positional groups).
//
// A value without '%' is returned as a substring of the path: no allocation.
func decodeArg(raw, name string) (string, error) {
	v := raw
	if strings.IndexByte(raw, '%') >= 0 {
		v = unescape(raw)
	}
	if !utf8.ValidString(v) {
		if name == "" {
			name = "url"
		}
		b := v[:min(len(v), maxReprBytes)]
		return "", newError(400, ErrInvalidUTF8, "Invalid unicode in %s: %s", name, pyBytesRepr(b))
	}
	return v, nil
}

// unescape percent-decodes s exactly as Python's
// urllib.parse.unquote_to_bytes (Tornado's url_unescape(s, encoding=None,
// plus=False)): "%XY" with two hex digits becomes one byte, anything else,
// including a "%" not followed by two hex digits, is copied as it is, and "+"
// stays "+". The result may be invalid UTF-8.
func unescape(s string) string {
	n := strings.Count(s, "%")
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) - n) // at most: every "%" could start an escape of 3 -> 1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// pathEscape is Tornado's url_escape(value, plus=False), that is Python's
// urllib.parse.quote(value, safe="/"): every byte except ASCII letters,
// digits, "_.-~" and "/" becomes %XY with upper-case hex.
func pathEscape(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !pathSafe(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexdigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if pathSafe(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexdigits[c>>4], hexdigits[c&15])
	}
	return string(b)
}

func pathSafe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '.' || c == '-' || c == '~' || c == '/'
}

// pyBytesRepr renders b as Python's repr(bytes) does (b'...' or b"..."), so
// the 400 message is the one Tornado logs.
func pyBytesRepr(b string) string {
	quote := byte('\'')
	if strings.IndexByte(b, '\'') >= 0 && strings.IndexByte(b, '"') < 0 {
		quote = '"'
	}
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 0, len(b)+3)
	out = append(out, 'b', quote)
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == quote || c == '\\':
			out = append(out, '\\', c)
		case c == '\t':
			out = append(out, '\\', 't')
		case c == '\n':
			out = append(out, '\\', 'n')
		case c == '\r':
			out = append(out, '\\', 'r')
		case c < ' ' || c >= 0x7f:
			out = append(out, '\\', 'x', hexdigits[c>>4], hexdigits[c&15])
		default:
			out = append(out, c)
		}
	}
	return string(append(out, quote))
}
