// Package stack grows a goroutine's stack early, while it is shallow.
//
// A goroutine starts with a 2 KiB stack, and net/http's connection
// goroutine grows to 4 KiB before a handler runs. When a call needs more,
// the runtime copies the whole stack to one twice the size and fixes up
// every frame on it; most of that cost is per frame (finding each
// frame's pointer map), so a stack that grows ten calls deep costs
// several times one that grows at its first call. A WebSocket handshake
// and a WebSocket read both cross those sizes every time (the read path
// from Session.readLoop to the read system call is about 1.5 KiB of
// frames; net/http's connection goroutine, the handshake and its access
// record take more than 4 KiB), so their goroutines call Grow where they
// begin.
package stack

// probeSize is how much free stack Grow guarantees below its caller:
// enough that a 2 KiB stack, or a 4 KiB one already half used, grows once
// at Grow rather than later.
const probeSize = 2048

// Grow makes sure about 2 KiB of stack is free below its caller, growing
// the stack now if it is not: the copy then moves only the caller's few
// frames. It costs a 2 KiB memclr when the stack needs no growth.
//
//go:noinline
func Grow() {
	var probe [probeSize]byte
	touch(&probe)
}

// touch keeps probe on Grow's frame: the compiler must lay the array out
// because its address is used, and it stays on the stack because touch
// does not keep it.
//
//go:noinline
func touch(p *[probeSize]byte) { p[0] = 1 }
