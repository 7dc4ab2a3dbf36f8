//go:build amd64 && !purego

package websocket

import "math/bits"

// maskVectorMin is the length from which the assembly paths beat
// maskGeneric: below it the call (about 2ns through the ABI wrapper) and the
// vector setup cost more than they save. Measured: even at 128 bytes,
// faster from 192.
const maskVectorMin = 128

// maskHasAVX2 is decided once, at package initialisation, and only read
// afterwards.
var maskHasAVX2 = cpuHasAVX2()

// maskAsm XORs all of b with key (octet 0 in the low byte), through
// maskAVX2 when maskHasAVX2 is set and maskSSE2 otherwise. Choosing in the
// assembly rather than in Go keeps maskVector small enough to inline: one
// call fewer on every payload. None of the three returns the rotated key:
// maskVector works it out from len(b). maskSSE2 and maskAVX2 take any
// length, so that the tests can check them directly.
//
//go:noescape
func maskAsm(b []byte, key uint32)

//go:noescape
func maskSSE2(b []byte, key uint32)

//go:noescape
func maskAVX2(b []byte, key uint32)

// cpuid and xgetbv0 report the processor's feature bits; see cpuHasAVX2.
func cpuid(leaf, sub uint32) (a, b, c, d uint32)
func xgetbv0() (a, d uint32)

// maskVector is maskBytes for buffers of at least maskVectorMin bytes.
func maskVector(key uint32, b []byte) uint32 {
	maskAsm(b, key)
	return bits.RotateLeft32(key, -8*(len(b)&3))
}

// cpuHasAVX2 reports whether the processor has AVX2 and the operating
// system saves the YMM registers on context switches (without the latter,
// using them would corrupt other threads' state). It reads CPUID itself
// rather than importing golang.org/x/sys/cpu, which keeps the package free
// of dependencies for one bit.
func cpuHasAVX2() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const osxsave, avx = 1 << 27, 1 << 28
	if ecx1&osxsave == 0 || ecx1&avx == 0 {
		return false
	}
	// XCR0 bit 1: SSE state, bit 2: AVX (upper YMM) state.
	if xcr0, _ := xgetbv0(); xcr0&6 != 6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	const avx2 = 1 << 5
	return ebx7&avx2 != 0
}
