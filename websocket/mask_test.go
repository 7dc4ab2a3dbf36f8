package websocket

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// maskReference is the definition from RFC 6455 section 5.3, one octet at
// a time, kept apart from the code under test.
func maskReference(keyOctets [4]byte, pos int, b []byte) {
	for i := range b {
		b[i] ^= keyOctets[(pos+i)%4]
	}
}

// maskImpl is one implementation with the maskBytes signature.
type maskImpl struct {
	name string
	fn   func(key uint32, b []byte) uint32
}

// maskImpls lists maskBytes and every path behind it that this machine can
// run, so that the generic code is tested on amd64 too.
func maskImpls() []maskImpl {
	impls := []maskImpl{
		{"maskBytes", maskBytes},
		{"generic", maskGeneric},
	}
	return append(impls, archMaskImpls()...)
}

func TestMaskMatchesReference(t *testing.T) {
	t.Parallel()
	keyOctets := [4]byte{0x12, 0xa5, 0x3c, 0xf0}
	key := binary.LittleEndian.Uint32(keyOctets[:])
	// Offsets 0..31 give every address residue modulo 32, whatever the
	// buffer's own alignment, so every head of the vector paths is run.
	const maxLen, maxOff = 300, 32
	src := make([]byte, maxLen+maxOff+8)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range src {
		src[i] = byte(rng.Uint32())
	}

	for _, impl := range maskImpls() {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			got := make([]byte, len(src))
			want := make([]byte, len(src))
			for off := range maxOff {
				for n := 0; n <= maxLen; n++ {
					for rot := range 4 {
						copy(got, src)
						copy(want, src)
						k := bits.RotateLeft32(key, -8*rot)
						next := impl.fn(k, got[off:off+n])
						maskReference(keyOctets, rot, want[off:off+n])
						// Comparing the whole buffer catches writes outside b.
						if !bytesEqual(got, want) {
							require.Equal(t, want, got, "off=%d len=%d rot=%d", off, n, rot)
						}
						wantNext := bits.RotateLeft32(key, -8*((rot+n)%4))
						require.Equal(t, wantNext, next, "off=%d len=%d rot=%d", off, n, rot)
					}
				}
			}
		})
	}
}

// TestMaskPieces masks one payload split in pieces, passing the returned key
// on, as a frame read in several reads is.
func TestMaskPieces(t *testing.T) {
	t.Parallel()
	keyOctets := [4]byte{1, 2, 3, 4}
	key := binary.LittleEndian.Uint32(keyOctets[:])
	payload := make([]byte, 5000)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	want := append([]byte(nil), payload...)
	maskReference(keyOctets, 0, want)

	for _, impl := range maskImpls() {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(3, 4))
			for range 200 {
				got := append([]byte(nil), payload...)
				k := key
				for rest := got; len(rest) > 0; {
					n := min(len(rest), rng.IntN(300))
					k = impl.fn(k, rest[:n])
					rest = rest[n:]
				}
				require.Equal(t, want, got)
			}
		})
	}
}

// TestMaskInvolution checks that masking twice restores the payload, the
// property the client and the server rely on.
func TestMaskInvolution(t *testing.T) {
	t.Parallel()
	b := make([]byte, 70000)
	for i := range b {
		b[i] = byte(i)
	}
	orig := append([]byte(nil), b...)
	for _, impl := range maskImpls() {
		impl.fn(0xdeadbeef, b[3:])
		require.NotEqual(t, orig, b, impl.name)
		impl.fn(0xdeadbeef, b[3:])
		require.Equal(t, orig, b, impl.name)
	}
}

// bytesEqual avoids require.Equal's formatting cost in the hot loop above.
func bytesEqual(a, b []byte) bool { return string(a) == string(b) }
