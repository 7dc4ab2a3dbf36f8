package websocket

import (
	"encoding/binary"
	"math/bits"
)

// utf8Validator checks UTF-8 text that arrives in pieces, such as the
// frames of a fragmented message (RFC 6455 section 8.1), without keeping
// the pieces. It fails as soon as the bytes seen so far cannot begin a valid
// text, not only at the end, so that a peer sending an invalid text message
// is closed with 1007 on the frame where it went wrong (Autobahn 6.x checks
// the fail-fast position). The zero value is ready to use, and the state is
// one byte because every connection carries one.
//
// ASCII is skipped 32 bytes at a time; everything else goes through a
// "shift DFA" (see utf8DFA), which carries the state across pieces for
// free and costs under two cycles a byte whatever the mix of sequence
// lengths, where a decoder that branches on each lead byte mispredicts on
// mixed text (BenchmarkUTF8Validate/mixed: about 1.6 times utf8.Valid's
// speed; on ASCII the two are level).
type utf8Validator struct {
	// state is a DFA state (utf8Accept, utf8Reject, ...), stored as the
	// state's bit offset in the utf8DFA rows.
	state uint8
}

// valid consumes p and reports whether the text so far can still be valid.
// Once it has returned false it keeps doing so until reset.
func (v *utf8Validator) valid(p []byte) bool {
	const hi = 0x8080808080808080 // the top bit of each byte: non-ASCII
	s := uint64(v.state)
	n := len(p)
	i := 0
	for i < n {
		if s&63 == utf8Accept {
			// Between runes: skip ASCII, 32 bytes at a time, then 8 at a
			// time to land on the first non-ASCII byte. The loops test
			// len(q) > 32 rather than >= so that q[32:] is never empty: the
			// compiler then needs no guard against a pointer past the end,
			// nor bounds checks, and the loop runs twice as fast.
			q := p[i:]
			for len(q) > 32 {
				w0 := binary.LittleEndian.Uint64(q)
				w1 := binary.LittleEndian.Uint64(q[8:])
				w2 := binary.LittleEndian.Uint64(q[16:])
				w3 := binary.LittleEndian.Uint64(q[24:])
				if (w0|w1|w2|w3)&hi != 0 {
					break
				}
				q = q[32:]
			}
			for len(q) > 8 {
				if w := binary.LittleEndian.Uint64(q) & hi; w != 0 {
					q = q[bits.TrailingZeros64(w)/8:]
					break
				}
				q = q[8:]
			}
			i = n - len(q)
		}
		// Run the DFA over a block, then look for ASCII again. The error
		// state is absorbing, so checking once a block is enough.
		end := min(i+16, n)
		for ; i <= end-8; i += 8 {
			q := p[i : i+8]
			s = utf8DFA[q[0]] >> (s & 63)
			s = utf8DFA[q[1]] >> (s & 63)
			s = utf8DFA[q[2]] >> (s & 63)
			s = utf8DFA[q[3]] >> (s & 63)
			s = utf8DFA[q[4]] >> (s & 63)
			s = utf8DFA[q[5]] >> (s & 63)
			s = utf8DFA[q[6]] >> (s & 63)
			s = utf8DFA[q[7]] >> (s & 63)
		}
		for ; i < end; i++ {
			s = utf8DFA[p[i]] >> (s & 63)
		}
		if s&63 == utf8Reject {
			break
		}
	}
	v.state = uint8(s & 63)
	return v.state != utf8Reject
}

// complete reports whether no sequence is left unfinished, that is whether
// the text seen so far, if valid, is also whole.
func (v *utf8Validator) complete() bool { return v.state == utf8Accept }

// reset makes v ready for a new text.
func (v *utf8Validator) reset() { v.state = utf8Accept }

// The DFA states, as bit offsets into a utf8DFA row (6 bits per state, 9
// states). utf8Accept is 0 so that the zero utf8Validator is ready.
const (
	utf8Accept  = 6 * iota // between runes
	utf8Reject             // invalid; absorbing
	utf8Tail1              // 1 more continuation byte, 80-BF
	utf8Tail2              // 2 more, the next 80-BF
	utf8Tail3              // 3 more, the next 80-BF
	utf8AfterE0            // 2 more, the next A0-BF (shorter forms are overlong)
	utf8AfterED            // 2 more, the next 80-9F (A0-BF would be surrogates)
	utf8AfterF0            // 3 more, the next 90-BF (shorter forms are overlong)
	utf8AfterF4            // 3 more, the next 80-8F (beyond U+10FFFF otherwise)
	utf8States  = iota
)

// utf8DFA is the UTF-8 automaton of RFC 3629 as a "shift DFA": row b holds,
// for every state s, the state after byte b in bits s..s+5, so a step is
// one table load that does not depend on the state and one shift that
// does. The dependency chain from byte to byte is therefore a single
// shift, where a classic state-transition table puts a load on it.
var utf8DFA = func() (t [256]uint64) {
	set := func(lo, hi byte, from, to uint64) {
		for b := int(lo); b <= int(hi); b++ {
			t[b] &^= 63 << from
			t[b] |= to << from
		}
	}
	// Everything not listed below goes to utf8Reject.
	for b := range t {
		for s := range uint64(utf8States) {
			t[b] |= utf8Reject << (6 * s)
		}
	}
	set(0x00, 0x7f, utf8Accept, utf8Accept)
	set(0xc2, 0xdf, utf8Accept, utf8Tail1)
	set(0xe0, 0xe0, utf8Accept, utf8AfterE0)
	set(0xe1, 0xec, utf8Accept, utf8Tail2)
	set(0xed, 0xed, utf8Accept, utf8AfterED)
	set(0xee, 0xef, utf8Accept, utf8Tail2)
	set(0xf0, 0xf0, utf8Accept, utf8AfterF0)
	set(0xf1, 0xf3, utf8Accept, utf8Tail3)
	set(0xf4, 0xf4, utf8Accept, utf8AfterF4)
	set(0x80, 0xbf, utf8Tail1, utf8Accept)
	set(0x80, 0xbf, utf8Tail2, utf8Tail1)
	set(0x80, 0xbf, utf8Tail3, utf8Tail2)
	set(0xa0, 0xbf, utf8AfterE0, utf8Tail1)
	set(0x80, 0x9f, utf8AfterED, utf8Tail1)
	set(0x90, 0xbf, utf8AfterF0, utf8Tail2)
	set(0x80, 0x8f, utf8AfterF4, utf8Tail2)
	return t
}()
