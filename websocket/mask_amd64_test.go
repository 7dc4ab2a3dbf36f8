//go:build amd64 && !purego

package websocket

import "math/bits"

func archMaskImpls() []maskImpl {
	wrap := func(f func([]byte, uint32)) func(uint32, []byte) uint32 {
		return func(key uint32, b []byte) uint32 {
			f(b, key)
			return bits.RotateLeft32(key, -8*(len(b)&3))
		}
	}
	impls := []maskImpl{{"sse2", wrap(maskSSE2)}}
	if maskHasAVX2 {
		impls = append(impls, maskImpl{"avx2", wrap(maskAVX2)})
	}
	return impls
}
