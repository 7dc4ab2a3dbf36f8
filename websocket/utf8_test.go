package websocket

import (
	"bytes"
	"fmt"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validPrefix is the reference for what utf8Validator.valid must say: b can
// still begin a valid text if some completion of at most three bytes makes
// it valid. Ten completions are enough: the first byte needed is in one of
// 80-BF, A0-BF, 80-9F, 90-BF or 80-8F, each of which holds 80, 90 or A0, and
// any later one is in 80-BF.
func validPrefix(b []byte) bool {
	if utf8.Valid(b) {
		return true
	}
	buf := make([]byte, len(b), len(b)+3)
	copy(buf, b)
	for _, first := range []byte{0x80, 0x90, 0xa0} {
		c := append(buf, first)
		for range 3 {
			if utf8.Valid(c) {
				return true
			}
			c = append(c, 0x80)
		}
	}
	return false
}

// failPos is the index of the byte after which text can no longer be valid,
// or -1 if every prefix of text is a valid prefix.
func failPos(text []byte) int {
	for i := range text {
		if !validPrefix(text[:i+1]) {
			return i
		}
	}
	return -1
}

// checkPieces feeds text to a fresh validator split at the given cuts and
// checks every answer against the reference.
func checkPieces(t *testing.T, text []byte, cuts ...int) {
	t.Helper()
	var v utf8Validator
	start := 0
	for _, end := range append(cuts, len(text)) {
		got := v.valid(text[start:end])
		want := validPrefix(text[:end])
		if got != want {
			t.Fatalf("%x cut at %v: valid(%x) after %x = %v, want %v",
				text, cuts, text[start:end], text[:start], got, want)
		}
		if !got {
			require.False(t, v.valid([]byte("a")), "a failed validator must stay failed")
			require.False(t, v.complete())
			return
		}
		start = end
	}
	if got, want := v.complete(), utf8.Valid(text); got != want {
		t.Fatalf("%x cut at %v: complete() = %v, want %v", text, cuts, got, want)
	}
}

// autobahnUTF8Cases follows Autobahn TestSuite section 6 (and Markus Kuhn's
// UTF-8 decoder stress test it is built from), which every conforming
// WebSocket peer is run against.
var autobahnUTF8Cases = []struct {
	name  string
	text  string
	valid bool
	fail  int // index of the byte that makes the text invalid (fail fast), when !valid
}{
	{"6.1 empty", "", true, 0},
	{"6.2 valid text", "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!", true, 0},
	{"6.3 kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true, 0},
	{"6.3 surrogate inside", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", false, 12},
	{"6.4 above U+10FFFF inside", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64", false, 12},
	{"6.4 lone continuation inside", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\x80\x65\x64", false, 11},
	{"6.5 first 1-byte", "\x00", true, 0},
	{"6.5 first 2-byte", "\xc2\x80", true, 0},
	{"6.5 first 3-byte", "\xe0\xa0\x80", true, 0},
	{"6.5 first 4-byte", "\xf0\x90\x80\x80", true, 0},
	{"6.6 last 1-byte", "\x7f", true, 0},
	{"6.6 last 2-byte", "\xdf\xbf", true, 0},
	{"6.6 last 3-byte", "\xef\xbf\xbf", true, 0},
	{"6.6 last 4-byte form", "\xf7\xbf\xbf\xbf", false, 0},
	{"6.6 5-byte form", "\xfb\xbf\xbf\xbf\xbf", false, 0},
	{"6.6 6-byte form", "\xfd\xbf\xbf\xbf\xbf\xbf", false, 0},
	{"6.7 U+D7FF", "\xed\x9f\xbf", true, 0},
	{"6.7 U+E000", "\xee\x80\x80", true, 0},
	{"6.7 U+FFFD", "\xef\xbf\xbd", true, 0},
	{"6.7 U+10FFFF", "\xf4\x8f\xbf\xbf", true, 0},
	{"6.7 U+110000", "\xf4\x90\x80\x80", false, 1},
	{"6.8 5-byte U+0", "\xf8\x88\x80\x80\x80", false, 0},
	{"6.8 6-byte U+0", "\xfc\x84\x80\x80\x80\x80", false, 0},
	{"6.9 first continuation", "\x80", false, 0},
	{"6.9 last continuation", "\xbf", false, 0},
	{"6.9 two continuations", "\x80\xbf", false, 0},
	{"6.9 after a rune", "\xc2\x80\x80", false, 2},
	{"6.10 all continuations", string(byteRange(0x80, 0xbf)), false, 0},
	{"6.11 lonely 2-byte lead", "\xc2\x20", false, 1},
	{"6.11 lonely 3-byte lead", "\xe1\x20", false, 1},
	{"6.11 lonely 4-byte lead", "\xf1\x20", false, 1},
	{"6.12 3-byte missing last", "\xe1\x80", false, -1},
	{"6.12 4-byte missing last", "\xf1\x80\x80", false, -1},
	{"6.12 C0 alone", "\xc0", false, 0},
	{"6.12 E0 80", "\xe0\x80", false, 1},
	{"6.12 F0 80 80", "\xf0\x80\x80", false, 1},
	{"6.13 incomplete runs", "\xe1\x80\xf1\x80\x80\xdf", false, 2},
	{"6.14 FE", "\xfe", false, 0},
	{"6.14 FF", "\xff", false, 0},
	{"6.14 FE FE FF FF", "\xfe\xfe\xff\xff", false, 0},
	{"6.15 overlong / 2-byte", "\xc0\xaf", false, 0},
	{"6.15 overlong / 3-byte", "\xe0\x80\xaf", false, 1},
	{"6.15 overlong / 4-byte", "\xf0\x80\x80\xaf", false, 1},
	{"6.16 max overlong 2-byte", "\xc1\xbf", false, 0},
	{"6.16 max overlong 3-byte", "\xe0\x9f\xbf", false, 1},
	{"6.16 max overlong 4-byte", "\xf0\x8f\xbf\xbf", false, 1},
	{"6.17 overlong NUL 3-byte", "\xe0\x80\x80", false, 1},
	{"6.18 U+D800", "\xed\xa0\x80", false, 1},
	{"6.18 U+DB7F", "\xed\xad\xbf", false, 1},
	{"6.18 U+DFFF", "\xed\xbf\xbf", false, 1},
	{"6.19 surrogate pair", "\xed\xa0\x80\xed\xb0\x80", false, 1},
	{"6.19 surrogate pair max", "\xed\xaf\xbf\xed\xbf\xbf", false, 1},
	{"6.20 U+FFFE", "\xef\xbf\xbe", true, 0},
	{"6.21 noncharacter U+1FFFF", "\xf0\x9f\xbf\xbf", true, 0},
	{"6.21 noncharacter U+10FFFE", "\xf4\x8f\xbf\xbe", true, 0},
	{"6.22 U+FDD0", "\xef\xb7\x90", true, 0},
	{"6.23 replacement char", "\xef\xbf\xbd", true, 0},
	{"long ASCII then surrogate", string(bytes.Repeat([]byte("abcdefgh"), 9)) + "\xed\xa0\x80", false, 73},
	{"long ASCII then truncated", string(bytes.Repeat([]byte("abcdefgh"), 9)) + "\xf0\x9f\x98", false, -1},
	{"emoji in ASCII", "0123456789abcdef0123456789\xf0\x9f\x98\x80abcdef0123456789abcdef", true, 0},
}

func byteRange(lo, hi byte) []byte {
	var b []byte
	for c := int(lo); c <= int(hi); c++ {
		b = append(b, byte(c))
	}
	return b
}

// TestUTF8ValidatorAutobahn splits each case at every position into two and
// three pieces, as fragments of a text message, and checks the answer after
// every piece and the position where validation first fails.
func TestUTF8ValidatorAutobahn(t *testing.T) {
	t.Parallel()
	for _, tc := range autobahnUTF8Cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			text := []byte(tc.text)
			require.Equal(t, tc.valid, utf8.Valid(text), "the case itself is wrong")

			var whole utf8Validator
			assert.Equal(t, tc.valid, whole.valid(text) && whole.complete())

			// Fed a byte at a time, validation fails on the byte that makes
			// the text invalid and not later; -1: it is a valid prefix that
			// does not end a rune, which only complete() can catch.
			if !tc.valid {
				require.Equal(t, tc.fail, failPos(text), "the case's fail position is wrong")
				var v utf8Validator
				got := -1
				for i := range text {
					if !v.valid(text[i : i+1]) {
						got = i
						break
					}
				}
				assert.Equal(t, tc.fail, got, "fail-fast position")
				if got == -1 {
					assert.False(t, v.complete())
				}
			}

			for i := 0; i <= len(text); i++ {
				checkPieces(t, text, i)
				for j := i; j <= len(text); j++ {
					checkPieces(t, text, i, j)
				}
			}
		})
	}
}

// TestUTF8ValidatorExhaustive checks every string of up to four bytes drawn
// from the bytes at the edges of the UTF-8 ranges, whole and a byte at a
// time, against the reference.
func TestUTF8ValidatorExhaustive(t *testing.T) {
	t.Parallel()
	edges := []byte{
		0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
		0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff,
	}
	var rec func(prefix []byte)
	rec = func(prefix []byte) {
		checkPieces(t, prefix)
		cuts := make([]int, 0, len(prefix))
		for i := 1; i < len(prefix); i++ {
			cuts = append(cuts, i)
		}
		checkPieces(t, prefix, cuts...)
		if len(prefix) == 4 {
			return
		}
		for _, c := range edges {
			rec(append(prefix, c))
		}
	}
	rec(make([]byte, 0, 4))
}

// TestUTF8ValidatorLong puts invalid and truncated sequences at every
// offset of a long ASCII or mixed text, so that they land at every position
// of the 32-byte ASCII loop and of the DFA blocks.
func TestUTF8ValidatorLong(t *testing.T) {
	t.Parallel()
	bad := []string{"\x80", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe0\x9f\xbf", "\xff", "\xc2", "\xf0\x9f\x98"}
	for _, base := range []string{"ascii", "mixed"} {
		text := utf8BenchText(base, 200)
		for _, b := range bad {
			t.Run(fmt.Sprintf("%s/%x", base, b), func(t *testing.T) {
				t.Parallel()
				for off := 0; off <= len(text); off++ {
					if !utf8.RuneStart(text[min(off, len(text)-1)]) && off < len(text) {
						continue // keep the base text valid around the insertion
					}
					s := append(append(append([]byte(nil), text[:off]...), b...), text[off:]...)
					checkPieces(t, s)
					checkPieces(t, s, off/2)
					checkPieces(t, s, off, off+1)
				}
			})
		}
	}
}

func TestUTF8ValidatorState(t *testing.T) {
	t.Parallel()
	assert.Equal(t, uintptr(1), unsafe.Sizeof(utf8Validator{}), "every connection carries one")

	var v utf8Validator
	assert.True(t, v.complete(), "the zero value is ready")
	assert.True(t, v.valid(nil))
	assert.True(t, v.valid([]byte("\xe2\x82")))
	assert.False(t, v.complete(), "a sequence is unfinished")
	assert.True(t, v.valid(nil), "an empty piece changes nothing")
	assert.True(t, v.valid([]byte("\xac")))
	assert.True(t, v.complete())

	assert.False(t, v.valid([]byte("\xc0")))
	assert.False(t, v.valid([]byte("ok")), "failure is sticky")
	v.reset()
	assert.True(t, v.complete())
	assert.True(t, v.valid([]byte("ok")))
	assert.True(t, v.valid([]byte("\xf0")))
	v.reset()
	assert.True(t, v.complete(), "reset drops an unfinished sequence")
}

// FuzzUTF8Validator splits random input in three pieces and checks every
// answer against the reference, and the whole-input verdict against
// utf8.Valid.
func FuzzUTF8Validator(f *testing.F) {
	for i, tc := range autobahnUTF8Cases {
		f.Add([]byte(tc.text), uint16(i), uint16(i*7))
	}
	f.Fuzz(func(t *testing.T, text []byte, cut1, cut2 uint16) {
		a, b := int(cut1)%(len(text)+1), int(cut2)%(len(text)+1)
		if a > b {
			a, b = b, a
		}
		checkPieces(t, text, a, b)

		var v utf8Validator
		if got := v.valid(text) && v.complete(); got != utf8.Valid(text) {
			t.Fatalf("whole %x: %v, utf8.Valid says %v", text, got, !got)
		}
	})
}
