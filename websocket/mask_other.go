//go:build !amd64 || purego

package websocket

// maskVectorMin is 0 where there is no vector path: maskBytes always uses
// maskGeneric, and the compiler drops the branch.
const maskVectorMin = 0

func maskVector(key uint32, b []byte) uint32 { return maskGeneric(key, b) }
