package websocket

import (
	"encoding/binary"
	"math/bits"
)

// maskBytes XORs b in place with the masking key (RFC 6455 section 5.3),
// where key holds the four key octets little-endian (octet 0 in the low
// byte). It returns the key rotated so that a following call continues at
// the right octet, which lets a payload be masked in pieces.
//
// Every payload a server reads passes through here, so long buffers take a
// vector path where there is one (mask_amd64.go).
func maskBytes(key uint32, b []byte) uint32 { return maskWords(key, b, true) }

// maskGeneric is maskBytes without the vector path: the portable version,
// which the tests also run on machines that have a vector path.
func maskGeneric(key uint32, b []byte) uint32 { return maskWords(key, b, false) }

// maskWords masks b a 64-bit word at a time, or hands it to maskVector when
// vector is set and b is long enough. Both wrappers above inline, so a short
// payload costs one call however maskBytes dispatches.
//
// A word is a whole number of key repeats, so the key does not move within
// the word loops, and only the 0-7 tail bytes need the rotation.
// binary.LittleEndian.Uint64 compiles to a single load on the platforms
// that allow unaligned access, and to byte loads elsewhere, so one version
// is correct everywhere.
func maskWords(key uint32, b []byte, vector bool) uint32 {
	if vector && maskVectorMin != 0 && len(b) >= maskVectorMin {
		return maskVector(key, b)
	}
	if len(b) >= 8 {
		k := uint64(key) | uint64(key)<<32
		// Unrolled 32 bytes per iteration: the loop overhead otherwise costs
		// as much as the XOR itself.
		for len(b) >= 32 {
			v0 := binary.LittleEndian.Uint64(b[0:8])
			v1 := binary.LittleEndian.Uint64(b[8:16])
			v2 := binary.LittleEndian.Uint64(b[16:24])
			v3 := binary.LittleEndian.Uint64(b[24:32])
			binary.LittleEndian.PutUint64(b[0:8], v0^k)
			binary.LittleEndian.PutUint64(b[8:16], v1^k)
			binary.LittleEndian.PutUint64(b[16:24], v2^k)
			binary.LittleEndian.PutUint64(b[24:32], v3^k)
			b = b[32:]
		}
		for len(b) >= 8 {
			binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
			b = b[8:]
		}
	}
	return maskTail(key, b)
}

// maskTail masks the few bytes left after the word loops, a byte at a
// time, and returns the key rotated past them.
func maskTail(key uint32, b []byte) uint32 {
	for i := range b {
		b[i] ^= byte(key)
		key = bits.RotateLeft32(key, -8)
	}
	return key
}
