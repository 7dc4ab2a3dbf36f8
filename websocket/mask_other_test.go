//go:build !amd64 || purego

package websocket

func archMaskImpls() []maskImpl { return nil }
