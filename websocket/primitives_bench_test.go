package websocket

import (
	"strconv"
	"testing"
	"unicode/utf8"
)

// benchSizes are a small message, a typical read buffer, and a large frame
// that no longer fits in the L1 cache.
var benchSizes = []int{64, 4096, 65536}

// BenchmarkCopy is the yardstick for BenchmarkMask: masking should run at
// nearly copy() speed (run both in the same invocation and compare MB/s).
func BenchmarkCopy(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			src, dst := make([]byte, n), make([]byte, n)
			b.SetBytes(int64(n))
			for b.Loop() {
				copy(dst, src)
			}
		})
	}
}

// BenchmarkMask measures every masking path this machine runs. The
// "maskBytes+6" case starts the payload 6 bytes into the buffer, where a
// client frame's payload of up to 125 bytes sits behind its header and key,
// to show the cost of the unaligned head.
func BenchmarkMask(b *testing.B) {
	impls := append(maskImpls(), maskImpl{"maskBytes+6", nil})
	for _, impl := range impls {
		fn, off := impl.fn, 0
		if fn == nil {
			fn, off = maskBytes, 6
		}
		for _, n := range benchSizes {
			b.Run(impl.name+"/"+strconv.Itoa(n), func(b *testing.B) {
				buf := make([]byte, n+off)[off:]
				b.SetBytes(int64(n))
				key := uint32(0x12345678)
				for b.Loop() {
					key = fn(key, buf)
				}
			})
		}
	}
}

// utf8BenchText returns n bytes of valid UTF-8: plain ASCII, or "mixed",
// mostly ASCII with 2-, 3- and 4-byte sequences in between as in text in
// European languages with the odd symbol or emoji.
func utf8BenchText(kind string, n int) []byte {
	pattern := "The quick brown fox jumps over the lazy dog. "
	if kind == "mixed" {
		pattern = "Größe café naïve 日本語 テキスト 😀 déjà vu, ça va? "
	}
	out := make([]byte, 0, n+utf8.UTFMax)
	for len(out) < n {
		for _, r := range pattern {
			if len(out)+utf8.RuneLen(r) > n {
				break
			}
			out = utf8.AppendRune(out, r)
		}
		if len(out)+utf8.UTFMax > n {
			for len(out) < n {
				out = append(out, ' ')
			}
		}
	}
	return out
}

// BenchmarkUTF8Validate compares the streaming validator on a whole message
// with utf8.Valid, which cannot resume across frames.
func BenchmarkUTF8Validate(b *testing.B) {
	for _, kind := range []string{"ascii", "mixed"} {
		for _, n := range benchSizes {
			text := utf8BenchText(kind, n)
			if !utf8.Valid(text) || len(text) != n {
				b.Fatalf("bad bench text %s/%d", kind, n)
			}
			b.Run(kind+"/"+strconv.Itoa(n)+"/validator", func(b *testing.B) {
				b.SetBytes(int64(n))
				var v utf8Validator
				for b.Loop() {
					v.reset()
					if !v.valid(text) || !v.complete() {
						b.Fatal("rejected valid text")
					}
				}
			})
			b.Run(kind+"/"+strconv.Itoa(n)+"/utf8.Valid", func(b *testing.B) {
				b.SetBytes(int64(n))
				for b.Loop() {
					if !utf8.Valid(text) {
						b.Fatal("rejected valid text")
					}
				}
			})
		}
	}
}
