package websocket

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/rawpeer"
)

// FuzzClosePayload checks parseClosePayload against RFC 6455 section 5.5.1
// and appendClosePayload against parseClosePayload: a payload is accepted
// iff it is empty or a valid code followed by a UTF-8 reason, a rejection is
// always a 1002 *ProtocolError, and an accepted payload encodes back to the
// same bytes. In the other direction, whatever appendClosePayload produces
// for a valid code is a payload the peer must accept.
func FuzzClosePayload(f *testing.F) {
	seed := func(code StatusCode, reason string) []byte {
		return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
	}
	f.Add([]byte{}, uint16(1000), "")
	f.Add([]byte{0x03}, uint16(0), "x")
	f.Add(seed(StatusNormalClosure, ""), uint16(1001), "bye")
	f.Add(seed(StatusGoingAway, "bye"), uint16(3000), "\xff")
	f.Add(seed(StatusNoStatusReceived, ""), uint16(1005), "")
	f.Add(seed(StatusAbnormalClosure, ""), uint16(1006), "")
	f.Add(seed(StatusTLSHandshake, ""), uint16(1015), "")
	f.Add(seed(999, ""), uint16(999), "")
	f.Add(seed(2999, ""), uint16(4999), "\u00e9")
	f.Add(seed(5000, ""), uint16(5000), "")
	f.Add(seed(4999, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"), uint16(1011), "\xed\xa0\x80")
	f.Add(seed(StatusProtocolError, "\xc0\xaf"), uint16(1002), string(make([]byte, 200)))
	f.Add(seed(StatusNormalClosure, "\xf0\x9f\x98"), uint16(1000), "\xf0\x9f\x98\x80")

	f.Fuzz(func(t *testing.T, p []byte, rawCode uint16, rawReason string) {
		ce, err := parseClosePayload(p)

		var wantOK bool
		switch {
		case len(p) == 0:
			wantOK = true
		case len(p) >= 2:
			wantOK = StatusCode(binary.BigEndian.Uint16(p)).Valid() && utf8.Valid(p[2:])
		}

		if !wantOK {
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("parseClosePayload(%x) = %v, %v; want a *ProtocolError", p, ce, err)
			}
			if pe.Code != StatusProtocolError {
				t.Fatalf("parseClosePayload(%x): code %d, want 1002", p, pe.Code)
			}
			if ce != nil {
				t.Fatalf("parseClosePayload(%x) returned %v next to an error", p, ce)
			}
			if !errors.Is(err, ErrProtocol) || !errors.Is(err, ErrClosed) {
				t.Fatalf("parseClosePayload(%x): %v does not match ErrProtocol and ErrClosed", p, err)
			}
		} else {
			if err != nil || ce == nil {
				t.Fatalf("parseClosePayload(%x) = %v, %v; want acceptance", p, ce, err)
			}
			if len(p) == 0 {
				if ce.Code != StatusNoStatusReceived || ce.Reason != "" {
					t.Fatalf("empty payload parsed as %+v", ce)
				}
			} else {
				checkCloseRoundTrip(t, p, ce)
			}
		}

		// The other direction: what we send must be accepted by a peer.
		code := StatusCode(rawCode)
		out := appendClosePayload(nil, code, rawReason)
		if code == 0 {
			if len(out) != 0 {
				t.Fatalf("code 0 encoded as %x, want empty", out)
			}
			return
		}
		if len(out) > maxControlPayload {
			t.Fatalf("appendClosePayload(%d, %q) is %d bytes, more than a control frame holds", code, rawReason, len(out))
		}
		if got := StatusCode(binary.BigEndian.Uint16(out)); got != code {
			t.Fatalf("appendClosePayload(%d, ...) encoded code %d", code, got)
		}
		if !utf8.Valid(out[2:]) {
			t.Fatalf("appendClosePayload(%d, %q) sent an invalid reason %x", code, rawReason, out[2:])
		}
		if utf8.ValidString(rawReason) && len(rawReason) <= maxCloseReason && string(out[2:]) != rawReason {
			t.Fatalf("appendClosePayload(%d, %q) changed a reason that fits: %q", code, rawReason, out[2:])
		}
		back, err := parseClosePayload(out)
		if code.Valid() != (err == nil) {
			t.Fatalf("our own payload %x for code %d: parse error %v, Valid %v", out, code, err, code.Valid())
		}
		if err == nil && (back.Code != code || back.Reason != string(out[2:])) {
			t.Fatalf("our own payload %x parsed as %+v", out, back)
		}
	})
}

// checkCloseRoundTrip checks that the accepted, non-empty payload p that
// parsed as ce encodes back to p, or, when p is longer than a control frame
// allows, to p's reason cut at a rune boundary.
func checkCloseRoundTrip(t *testing.T, p []byte, ce *CloseError) {
	t.Helper()
	if ce.Code != StatusCode(binary.BigEndian.Uint16(p)) || ce.Reason != string(p[2:]) {
		t.Fatalf("parseClosePayload(%x) = %+v", p, ce)
	}
	out := appendClosePayload(nil, ce.Code, ce.Reason)
	if len(p) <= maxControlPayload {
		if string(out) != string(p) {
			t.Fatalf("round trip of %x gave %x", p, out)
		}
		return
	}
	// Longer than a control frame: only parseClosePayload's caller (the
	// frame reader) rejects that, and our encoder cuts the reason.
	if len(out) > maxControlPayload || len(out) < maxControlPayload-(utf8.UTFMax-1) {
		t.Fatalf("round trip of %d-byte payload gave %d bytes", len(p), len(out))
	}
	if string(out) != string(p[:len(out)]) {
		t.Fatalf("round trip of %x is not a prefix: %x", p, out)
	}
	if !utf8.Valid(out[2:]) {
		t.Fatalf("round trip of %x cut inside a rune: %x", p, out)
	}
}

// tcpPairs makes connected TCP pairs on 127.0.0.1 from one listener, so a
// fuzz process opens a single listening port however many inputs it runs.
type tcpPairs struct{ ln net.Listener }

func newTCPPairs(tb testing.TB) *tcpPairs {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	tb.Cleanup(func() { ln.Close() })
	return &tcpPairs{ln: ln}
}

// pair returns both ends of a fresh connection: the accepted one and the
// dialled one.
func (p *tcpPairs) pair(tb testing.TB) (accepted, dialled *net.TCPConn) {
	tb.Helper()
	d, err := net.Dial("tcp", p.ln.Addr().String())
	require.NoError(tb, err)
	a, err := p.ln.Accept()
	if err != nil {
		d.Close()
		require.NoError(tb, err)
	}
	return a.(*net.TCPConn), d.(*net.TCPConn)
}

// refMessage is a data message as the reference decoder sees it.
type refMessage struct {
	typ  MessageType
	data []byte
}

// refResult is what the reference decoder expects a Conn to make of a
// stream: the messages it returns, the pings and pongs it reports, and how
// the stream may end. Exactly one of close, codes and eof says how it ends,
// except where a Conn may legitimately decide either way (a violation
// visible before the stream is cut short, bad compressed data before a
// close), when several are set.
type refResult struct {
	msgs         []refMessage
	pings, pongs [][]byte
	close        *CloseError         // the peer closed properly
	codes        map[StatusCode]bool // acceptable protocol error codes
	eof          bool                // the stream may end without a close

	// With controlFrom set, a reader may have reported only the first
	// pingsMin pings and pongsMin pongs: those after are inside a
	// compressed message that ended in trouble, which a streaming
	// decompressor may have found before reading on to them.
	controlFrom        bool
	pingsMin, pongsMin int
	inflated           int // bytes decompressed, for the allocation bound
}

func (r *refResult) fail(codes ...StatusCode) {
	if r.codes == nil {
		r.codes = map[StatusCode]bool{}
	}
	for _, c := range codes {
		r.codes[c] = true
	}
}

func (r *refResult) String() string {
	var codes []int
	for c := range r.codes {
		codes = append(codes, int(c))
	}
	slices.Sort(codes)
	return fmt.Sprintf("%d messages, %d pings, %d pongs, close %v, codes %v, eof %v",
		len(r.msgs), len(r.pings), len(r.pongs), r.close, codes, r.eof)
}

// refDeflate says whether the reference decoder, and the Conn under test,
// use permessage-deflate (RFC 7692), and with or without context takeover
// for the messages they read.
type refDeflate int

const (
	deflateOff refDeflate = iota
	deflateTakeover
	deflateNoTakeover
	deflateModes
)

// refWindow is the LZ77 window a context-takeover decompressor keeps
// between messages: 2^15 bytes, as neither side restricts it here.
const refWindow = 1 << 15

// inflateRef decompresses a permessage-deflate payload with the standard
// library's decoder (the core uses another): a whole message gets the
// 00 00 ff ff its sender stripped (RFC 7692 section 7.2.2) and an empty
// final block, after which a valid one ends in io.EOF; a part of one gets
// nothing, and running out of input is then no error. At most max bytes
// are produced. corrupt reports data no decoder may accept.
func inflateRef(raw, dict []byte, whole bool, max int64) (out []byte, corrupt bool) {
	src := raw
	if whole {
		src = append(slices.Clip(raw), 0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff)
	}
	out, err := io.ReadAll(io.LimitReader(flate.NewReaderDict(bytes.NewReader(src), dict), max))
	switch {
	case err == nil:
		return out, false
	case err == io.ErrUnexpectedEOF:
		return out, whole
	}
	return out, true
}

// refDecode is the reference frame decoder: it walks the stream one field
// at a time, as RFC 6455 section 5.2 lays a frame out, and applies the
// rules of sections 5.1-5.6 for the given role in the plainest way, and
// those of RFC 7692 when deflate is on. limit is the read limit (negative:
// none); it applies to data messages only, to their decompressed size
// when compressed (which on the wire may exceed it by wireLimit's margin).
func refDecode(in []byte, server bool, limit int64, deflate refDeflate) *refResult {
	res := &refResult{}
	var (
		fragType   MessageType // 0 when no message is in progress
		frag       []byte      // its payload so far, as sent
		compressed bool        // it has RSV1 set
		window     []byte      // the last output of compressed messages (takeover)
		pingsAt    int         // pings before it
		pongsAt    int         // pongs before it
		frames     int64       // its frames so far
	)
	// The default fragment limit (ConnOptions.MaxFragments).
	fragLimit := int64(-1)
	if limit >= 0 {
		fragLimit = max(limit>>6, MinDefaultMaxFragments)
	}
	maxOut := limit + 1 // how much of a message is worth inflating
	if limit < 0 {
		maxOut = 1 << 26
	}
	// cut records what a streaming reader may already have found in the
	// part of a compressed message that arrived before whatever ends the
	// stream (an error, a close, a cut): bad data (1007), or too much of
	// it (1009); and that it may have reported the pings and pongs inside
	// the message or not, depending on how far its decompressor read.
	cut := func(arrived []byte, typ MessageType, isCompressed bool) {
		if typ == 0 || !isCompressed {
			return
		}
		res.controlFrom, res.pingsMin, res.pongsMin = true, pingsAt, pongsAt
		out, corrupt := inflateRef(arrived, window, false, maxOut)
		res.inflated += len(out)
		if corrupt || (typ == TextMessage && !validPrefix(out)) {
			res.fail(StatusInvalidFramePayloadData)
		}
		if limit >= 0 && int64(len(out)) > limit {
			res.fail(StatusMessageTooBig)
		}
	}
	pos := 0
	for {
		if pos == len(in) {
			res.eof = true
			cut(frag, fragType, compressed)
			return res
		}
		b0 := in[pos]
		fin, rsv1, rsv23, op := b0&0x80 != 0, b0&0x40 != 0, b0&0x30, b0&0x0f
		control := op >= 8
		known := op <= 2 || (8 <= op && op <= 10)
		bad := rsv23 != 0 || !known || (control && !fin) ||
			(op == 0 && fragType == 0) || ((op == 1 || op == 2) && fragType != 0) ||
			(rsv1 && (deflate == deflateOff || (op != 1 && op != 2)))
		if pos+1 == len(in) {
			// Cut inside the header: a reader may fail the frame on what
			// it has or report the cut.
			res.eof = true
			if bad {
				res.fail(StatusProtocolError)
			}
			cut(frag, fragType, compressed)
			return res
		}
		b1 := in[pos+1]
		masked, len7 := b1&0x80 != 0, int(b1&0x7f)
		bad = bad || masked != server || (control && len7 > 125)
		p := pos + 2
		var length uint64
		switch len7 {
		case 126:
			if p+2 <= len(in) {
				length = uint64(in[p])<<8 | uint64(in[p+1])
			}
			p += 2
		case 127:
			if p+8 <= len(in) {
				for _, b := range in[p : p+8] {
					length = length<<8 | uint64(b)
				}
				bad = bad || length>>63 != 0
			}
			p += 8
		default:
			length = uint64(len7)
		}
		var key []byte
		if masked {
			if p+4 <= len(in) {
				key = in[p : p+4]
			}
			p += 4
		}
		// The message this frame belongs to, if it is a data frame.
		typ, isCompressed, prior := fragType, compressed, frag
		if op == 1 || op == 2 {
			typ, isCompressed, prior = MessageType(op), rsv1, nil
		}
		tooBig := false
		if !control && limit >= 0 {
			wire := uint64(limit)
			if isCompressed {
				wire += uint64(limit>>8) + 1024
			}
			tooBig = uint64(len(prior))+length > wire
		}
		if p > len(in) {
			res.eof = true
			if bad {
				res.fail(StatusProtocolError)
			}
			if tooBig { // the length arrived, the masking key did not
				res.fail(StatusMessageTooBig)
			}
			cut(frag, fragType, compressed)
			return res
		}
		if bad {
			res.fail(StatusProtocolError)
			if tooBig {
				res.fail(StatusMessageTooBig)
			}
			cut(frag, fragType, compressed)
			return res
		}
		if !control && fragLimit >= 0 {
			// Checked once the header is whole and valid, before the
			// read limit: the frame past the limit fails with 1008.
			n := frames + 1
			if op == 1 || op == 2 {
				n = 1
			}
			if n > fragLimit {
				res.fail(StatusPolicyViolation)
				cut(frag, fragType, compressed)
				return res
			}
		}
		text := !control && typ == TextMessage
		avail := uint64(len(in) - p)
		if tooBig {
			// Eager readers fail on the header, lazy ones when the bytes
			// over the limit arrive (or the stream ends first, or a UTF-8
			// error in the bytes under the limit comes first).
			res.fail(StatusMessageTooBig)
			if avail < length {
				res.eof = true
			}
			if isCompressed {
				cut(prior, typ, true)
				return res
			}
			under := min(avail, uint64(limit)-uint64(len(prior)))
			if text && !validPrefix(append(slices.Clip(prior), unmask(in[p:p+int(under)], key)...)) {
				res.fail(StatusInvalidFramePayloadData)
			}
			return res
		}
		if avail < length {
			res.eof = true
			if control {
				cut(frag, fragType, compressed)
				return res
			}
			arrived := append(slices.Clip(prior), unmask(in[p:], key)...)
			if isCompressed {
				cut(arrived, typ, true)
			} else if text && !validPrefix(arrived) {
				res.fail(StatusInvalidFramePayloadData)
			}
			return res
		}
		payload := unmask(in[p:p+int(length)], key)
		pos = p + int(length)
		switch op {
		case 8:
			switch {
			case len(payload) == 0:
				res.close = &CloseError{Code: StatusNoStatusReceived}
			case len(payload) == 1:
				res.fail(StatusProtocolError)
			case !rawpeer.Sendable(uint16(payload[0])<<8|uint16(payload[1])) || !utf8.Valid(payload[2:]):
				res.fail(StatusProtocolError)
			default:
				res.close = &CloseError{
					Code:   StatusCode(int(payload[0])<<8 | int(payload[1])),
					Reason: string(payload[2:]),
				}
			}
			cut(frag, fragType, compressed)
			return res
		case 9:
			res.pings = append(res.pings, payload)
			continue
		case 10:
			res.pongs = append(res.pongs, payload)
			continue
		case 1, 2:
			fragType, frag, compressed = typ, payload, rsv1
			pingsAt, pongsAt = len(res.pings), len(res.pongs)
			frames = 1
		case 0:
			frag = append(frag, payload...)
			frames++
		}
		if compressed {
			if !fin {
				continue
			}
			out, corrupt := inflateRef(frag, window, true, maxOut)
			res.inflated += len(out)
			tooMuch := limit >= 0 && int64(len(out)) > limit
			if corrupt || tooMuch || (text && !utf8.Valid(out)) {
				// Found at one point of the output or another; pings
				// inside the message may have been reported before.
				res.controlFrom, res.pingsMin, res.pongsMin = true, pingsAt, pongsAt
				if corrupt || (text && !utf8.Valid(out) && !tooMuch) || (text && !validPrefix(out)) {
					res.fail(StatusInvalidFramePayloadData)
				}
				if tooMuch {
					res.fail(StatusMessageTooBig)
				}
				return res
			}
			if deflate == deflateTakeover {
				window = append(window, out...)
				window = window[max(0, len(window)-refWindow):]
			}
			res.msgs = append(res.msgs, refMessage{fragType, out})
			fragType, frag, compressed = 0, nil, false
			continue
		}
		if text && !validPrefix(frag) {
			res.fail(StatusInvalidFramePayloadData)
			return res
		}
		if fin {
			if text && !utf8.Valid(frag) {
				res.fail(StatusInvalidFramePayloadData)
				return res
			}
			res.msgs = append(res.msgs, refMessage{fragType, frag})
			fragType, frag = 0, nil
		}
	}
}

// isPrefixFrom reports whether got is want cut to at least n elements.
func isPrefixFrom(got, want [][]byte, n int) bool {
	return n <= len(got) && len(got) <= len(want) && slices.EqualFunc(got, want[:len(got)], bytes.Equal)
}

// unmask returns a copy of p unmasked with key (RFC 6455 section 5.3),
// or a plain copy when key is nil. A copy, so that appending to it never
// writes over the input.
func unmask(p, key []byte) []byte {
	out := make([]byte, len(p))
	for i := range p {
		out[i] = p[i]
		if key != nil {
			out[i] ^= key[i%4]
		}
	}
	return out
}

// Ways FuzzFrameReader reads messages, chosen by the low bits of its how
// argument.
const (
	readWhole    = iota // ReadMessage
	readStream          // NextReader, read to EOF
	readPartly          // NextReader, read a few bytes, then skip the rest
	readModeMask = 3
)

// frameReadResult is what a Conn made of a stream.
type frameReadResult struct {
	msgs         []refMessage
	pings, pongs [][]byte
	err          error
	again        error  // a second read's error
	lateControl  bool   // the second read reported pings or pongs
	writeErr     error  // a write's error after the read failed
	out          []byte // what the Conn sent back
	outErr       error  // how reading what it sent ended
}

// FuzzFrameReader feeds arbitrary bytes, as the peer's side of a TCP
// connection, to a server Conn and to a client Conn, and checks what they
// read against refDecode: the same messages, pings and pongs; an ending
// the reference allows (a *CloseError, a *ProtocolError with an allowed
// code, or an error matching ErrClosed when the stream ends); valid UTF-8
// in every text message; no hang; no allocation of a declared length
// before the bytes arrive; and on the wire back, a pong for every ping and
// a close frame that carries the code of the error.
func FuzzFrameReader(f *testing.F) {
	pairs := newTCPPairs(f)
	f.Fuzz(func(t *testing.T, stream []byte, limitSel uint16, split uint16, how, chunk, deflate uint8) {
		mode := refDeflate(deflate) % deflateModes
		limit := int64(1 << 20)
		switch {
		case limitSel == 0 && mode == deflateOff:
			limit = -1 // with deflate, a limit keeps bombs small
		case limitSel > 1:
			limit = int64(limitSel - 1)
		}
		buffered := int(split) % (len(stream) + 1)
		for _, server := range []bool{true, false} {
			want := refDecode(stream, server, limit, mode)
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			before := ms.TotalAlloc
			got := readFrames(t, pairs, stream, buffered, int(chunk), server, limit, how, mode)
			runtime.ReadMemStats(&ms)
			// A declared length is never allocated ahead of its bytes: the
			// reader may claim 64 KiB up front and then grows by doubling,
			// so everything beyond a fixed allowance scales with the input
			// and with what it inflates to.
			if used := ms.TotalAlloc - before; used > 4<<20+32*uint64(len(stream))+4*uint64(want.inflated) {
				t.Fatalf("server=%v: reading %d bytes allocated %d bytes", server, len(stream), used)
			}
			checkFrameRead(t, server, how, want, got)
		}
	})
}

// readFrames runs one Conn over stream and collects what it reports. The
// Conn gets the first buffered bytes as read past the handshake, the rest
// over TCP, in writes of chunk bytes (0: one write) with pauses between
// them so that frames arrive in pieces.
func readFrames(t *testing.T, pairs *tcpPairs, stream []byte, buffered, chunk int, server bool, limit int64, how uint8, mode refDeflate) *frameReadResult {
	nc, peer := pairs.pair(t)
	defer peer.Close()
	got := &frameReadResult{}
	opts := &ConnOptions{
		ReadLimit:    limit,
		CloseTimeout: time.Second,
		OnPing:       func(p []byte) { got.pings = append(got.pings, bytes.Clone(p)) },
		OnPong:       func(p []byte) { got.pongs = append(got.pongs, bytes.Clone(p)) },
	}
	var c *Conn
	if mode == deflateOff {
		c = newConn(nc, stream[:buffered], server, "", opts)
	} else {
		noTakeover := mode == deflateNoTakeover
		c = newConnDeflating(nc, stream[:buffered], server, "", opts, &deflateParams{
			serverNoContextTakeover: noTakeover,
			clientNoContextTakeover: noTakeover,
			serverMaxWindowBits:     15,
			clientMaxWindowBits:     15,
		}, nil)
	}
	defer c.CloseNow()

	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		defer peer.CloseWrite()
		rest := stream[buffered:]
		if chunk == 0 {
			peer.Write(rest)
			return
		}
		const maxChunks = 32 // bounds the time spent pausing
		chunk = max(chunk, (len(rest)+maxChunks-1)/maxChunks)
		for len(rest) > 0 {
			n := min(chunk, len(rest))
			if _, err := peer.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
			time.Sleep(20 * time.Microsecond)
		}
	}()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		var buf bytes.Buffer
		_, got.outErr = io.Copy(&buf, io.LimitReader(peer, 1<<20+4*int64(len(stream))))
		got.out = buf.Bytes()
	}()

	// Each input runs two Conns; Go's fuzzing kills a worker whose input
	// runs 10s, so each gets 3s to read and 1.5s more to close.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for got.err == nil {
		if len(got.msgs) > len(stream) {
			t.Fatalf("server=%v: %d messages from %d bytes", server, len(got.msgs), len(stream))
		}
		var (
			typ  MessageType
			data []byte
		)
		switch how & readModeMask {
		case readWhole:
			typ, data, got.err = c.ReadMessage(ctx)
		default:
			var r io.Reader
			typ, r, got.err = c.NextReader(ctx)
			if got.err != nil {
				break
			}
			if how&readModeMask == readPartly {
				r = io.LimitReader(r, int64(how>>2))
			}
			data, got.err = io.ReadAll(r)
			if data == nil {
				data = []byte{}
			}
		}
		if got.err == nil {
			got.msgs = append(got.msgs, refMessage{typ, data})
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("server=%v: reading hung: %v", server, got.err)
	}
	pings, pongs := got.pings, got.pongs
	_, _, got.again = c.ReadMessage(ctx)
	got.lateControl = len(got.pings) != len(pings) || len(got.pongs) != len(pongs)
	got.pings, got.pongs = pings, pongs
	got.writeErr = c.WriteMessage(ctx, BinaryMessage, []byte("late"))
	// The Conn closes TCP when a read fails, which ends our reading of
	// what it sent.
	select {
	case <-drained:
	case <-time.After(1500 * time.Millisecond):
		t.Fatalf("server=%v: TCP still open 1.5s after the read error %v", server, got.err)
	}
	<-wrote
	return got
}

// checkFrameRead compares what a Conn made of a stream with the reference.
func checkFrameRead(t *testing.T, server bool, how uint8, want *refResult, got *frameReadResult) {
	t.Helper()
	role := "client"
	if server {
		role = "server"
	}
	fatalf := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s: "+format+"\nreference: %v\nconn: err %v, %d messages", append([]any{role}, append(args, want, got.err, len(got.msgs))...)...)
	}

	// Messages: all of them, in order, unless partial reads cut them.
	if len(got.msgs) != len(want.msgs) {
		// A partial read skips the rest of a message, so a message the
		// reference fails (after the bytes read) may still be returned.
		if how&readModeMask != readPartly || len(got.msgs) != len(want.msgs)+1 {
			fatalf("got %d messages, want %d", len(got.msgs), len(want.msgs))
		}
	}
	for i, m := range got.msgs {
		if m.typ == TextMessage && !utf8.Valid(m.data) && how&readModeMask != readPartly {
			fatalf("message %d: invalid UTF-8 text %q", i, m.data)
		}
		if i == len(want.msgs) {
			break
		}
		w := want.msgs[i]
		wdata := w.data
		if how&readModeMask == readPartly {
			wdata = wdata[:min(len(wdata), int(how>>2))]
		}
		if m.typ != w.typ || !bytes.Equal(m.data, wdata) {
			fatalf("message %d: got %v %q, want %v %q", i, m.typ, m.data, w.typ, wdata)
		}
	}
	pingsMin, pongsMin := len(want.pings), len(want.pongs)
	if want.controlFrom {
		pingsMin, pongsMin = want.pingsMin, want.pongsMin
	}
	if !isPrefixFrom(got.pings, want.pings, pingsMin) {
		fatalf("pings reported %q, want the first %d to %d of %q", got.pings, pingsMin, len(want.pings), want.pings)
	}
	if !isPrefixFrom(got.pongs, want.pongs, pongsMin) {
		fatalf("pongs reported %q, want the first %d to %d of %q", got.pongs, pongsMin, len(want.pongs), want.pongs)
	}

	// How it ended.
	var (
		pe      *ProtocolError
		ce      *CloseError
		outCode = StatusCode(-1) // the close code we expect on the wire; -1: none
	)
	switch {
	case errors.As(got.err, &pe):
		if !want.codes[pe.Code] {
			fatalf("protocol error %v not expected", got.err)
		}
		outCode = pe.Code
	case errors.As(got.err, &ce):
		if want.close == nil || *ce != *want.close {
			fatalf("close %+v, want %+v", ce, want.close)
		}
		outCode = ce.Code
	case errors.Is(got.err, ErrClosed):
		if !want.eof {
			fatalf("ended with %v, want no EOF", got.err)
		}
	default:
		fatalf("unexpected error %v (%T)", got.err, got.err)
	}
	if !errors.Is(got.err, ErrClosed) {
		fatalf("%v does not match ErrClosed", got.err)
	}
	// The error is final: writes fail, and the next read returns it
	// again without looking at the stream.
	if !errors.Is(got.writeErr, ErrClosed) {
		fatalf("write after %v returned %v", got.err, got.writeErr)
	}
	checkConnOutput(t, fatalf, server, got.pings, got, outCode)
	if got.again == nil || got.again.Error() != got.err.Error() || got.lateControl {
		// Once a bug: ReadMessage resumed a message that an error had
		// interrupted and read on from the buffer, calling OnPing/OnPong
		// and even returning a message after the peer's close.
		fatalf("read after %v returned %v (late pings/pongs: %v)", got.err, got.again, got.lateControl)
	}
}

// checkConnOutput checks the frames a Conn sent while reading: a pong for
// each ping, in order, with its payload, then the close frame answering or
// reporting how the read ended. Only a clean end of the output proves it
// complete; after a reset (the Conn closed with our input unread) it may
// have been cut.
func checkConnOutput(t *testing.T, fatalf func(string, ...any), server bool, pings [][]byte, got *frameReadResult, outCode StatusCode) {
	t.Helper()
	// A reading Conn writes only pongs and one close frame. Hand it to
	// refDecode from the other role with no limit.
	out := refDecode(got.out, !server, -1, deflateOff)
	complete := got.outErr == nil
	if len(out.msgs) != 0 || len(out.codes) != 0 || len(out.pings) != 0 {
		fatalf("Conn sent %x: %v", got.out, out)
	}
	if complete && !slices.EqualFunc(out.pongs, pings, bytes.Equal) ||
		!complete && (len(out.pongs) > len(pings) || !slices.EqualFunc(out.pongs, pings[:len(out.pongs)], bytes.Equal)) {
		fatalf("Conn answered pings %q with pongs %q", pings, out.pongs)
	}
	switch {
	case out.close != nil:
		// An empty close is echoed empty, which reads back as 1005.
		if out.close.Code != outCode {
			fatalf("Conn sent close %v, want code %v", out.close, outCode)
		}
	case complete && outCode != -1:
		fatalf("Conn sent no close frame, want code %v (sent %x)", outCode, got.out)
	}
}

// handshakeServer is an http.Server on 127.0.0.1 whose handler calls
// Accept and reports, for each request, what it saw and what Accept did.
type handshakeServer struct {
	addr string
	seen chan handshakeSeen
	done chan handshakeDone
}

// handshakeSeen is a request as the handler got it, sent before Accept
// answers, so it is waiting by the time the client has the response.
type handshakeSeen struct {
	method     string
	major      int
	minor      int
	host       string
	header     http.Header
	remoteAddr string
}

// handshakeDone is what Accept returned.
type handshakeDone struct {
	remoteAddr string
	conn       bool
	herr       *HandshakeError
	err        error
	panic      any
}

// fuzzAcceptOptions are the options FuzzHandshake's server accepts with:
// two subprotocols and an extra header, to check that they reach the 101.
func fuzzAcceptOptions() *AcceptOptions {
	return &AcceptOptions{
		Subprotocols: []string{"chat", "superchat"},
		Header:       http.Header{"X-Fuzz": {"1"}},
	}
}

func newHandshakeServer(tb testing.TB) *handshakeServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	hs := &handshakeServer{
		addr: ln.Addr().String(),
		seen: make(chan handshakeSeen, 16),
		done: make(chan handshakeDone, 16),
	}
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hs.seen <- handshakeSeen{
				method: r.Method, major: r.ProtoMajor, minor: r.ProtoMinor,
				host: r.Host, header: r.Header.Clone(), remoteAddr: r.RemoteAddr,
			}
			d := handshakeDone{remoteAddr: r.RemoteAddr}
			defer func() {
				// net/http would swallow a panic in Accept; report it.
				if p := recover(); p != nil {
					d.panic = fmt.Sprintf("%v\n%s", p, debug.Stack())
				}
				hs.done <- d
			}()
			c, err := Accept(w, r, fuzzAcceptOptions())
			d.conn, d.err = c != nil, err
			errors.As(err, &d.herr)
			if c != nil {
				c.CloseNow()
			}
		}),
	}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return hs
}

// handshakeOutcome is one response Accept may give: "101", or the status
// and body of a refusal.
type handshakeOutcome struct {
	status int
	body   string
}

var outcome101 = handshakeOutcome{status: http.StatusSwitchingProtocols}

// wantHandshake is the reference for Accept: the outcomes allowed for a
// request, written from RFC 6455 section 4.2.1 and the contract's order
// and bodies of refusals. Where a request falls between readings of the
// rules (a refusal ordered "with the method", an Origin in a form a browser
// never sends, a key whose padding bits are not zero) every reading is
// allowed.
func wantHandshake(s handshakeSeen) map[handshakeOutcome]bool {
	want := map[handshakeOutcome]bool{}
	refuse := func(status int, body string) { want[handshakeOutcome{status, body}] = true }
	methodOK := s.method == http.MethodGet
	versionOK := s.major > 1 || (s.major == 1 && s.minor >= 1)
	switch {
	case !methodOK && !versionOK:
		refuse(http.StatusMethodNotAllowed, "Method Not Allowed")
		refuse(http.StatusBadRequest, "WebSocket requires HTTP/1.1")
		return want
	case !methodOK:
		refuse(http.StatusMethodNotAllowed, "Method Not Allowed")
		return want
	case !versionOK:
		refuse(http.StatusBadRequest, "WebSocket requires HTTP/1.1")
		return want
	}
	if !rawpeer.HasToken(s.header["Upgrade"], "websocket") {
		refuse(http.StatusBadRequest, `Can "Upgrade" only to "WebSocket".`)
		return want
	}
	if !rawpeer.HasToken(s.header["Connection"], "upgrade") {
		refuse(http.StatusBadRequest, `"Connection" must be "Upgrade".`)
		return want
	}
	switch originAllowed(s) {
	case originRefused:
		refuse(http.StatusForbidden, "Cross origin websockets not allowed")
		return want
	case originUnclear:
		refuse(http.StatusForbidden, "Cross origin websockets not allowed")
	}
	if v := s.header["Sec-Websocket-Version"]; len(v) != 1 || v[0] != "13" {
		refuse(http.StatusUpgradeRequired, "Upgrade Required")
		return want
	}
	switch keyValid(s.header["Sec-Websocket-Key"]) {
	case keyInvalid:
		refuse(http.StatusBadRequest, "Missing/Invalid WebSocket key")
		return want
	case keyNonCanonical:
		refuse(http.StatusBadRequest, "Missing/Invalid WebSocket key")
	}
	want[outcome101] = true
	return want
}

const (
	originOK = iota
	originRefused
	originUnclear
)

// originAllowed applies the default origin rule to the plain form a
// browser sends (RFC 6454 section 6.2: scheme "://" host [":" port]):
// allowed when there is no Origin or its host[:port] equals the request's
// Host, ASCII case-insensitively. Anything else is unclear.
func originAllowed(s handshakeSeen) int {
	origin := ""
	if v := s.header["Origin"]; len(v) > 0 {
		origin = v[0]
	}
	if origin == "" {
		return originOK
	}
	scheme, hostport, ok := strings.Cut(origin, "://")
	if !ok || scheme == "" || hostport == "" {
		return originUnclear
	}
	for i := 0; i < len(scheme); i++ {
		c := scheme[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return originUnclear
		}
	}
	for i := 0; i < len(hostport); i++ {
		c := hostport[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".-_~:[]", c) >= 0) {
			return originUnclear
		}
	}
	if rawpeer.EqualFoldASCII(hostport, s.host) {
		return originOK
	}
	return originRefused
}

const (
	keyValidCanonical = iota
	keyInvalid
	keyNonCanonical
)

// keyValid checks a Sec-WebSocket-Key (RFC 6455 section 4.1 item 7: one
// header, a base64 encoding of 16 bytes, which is 22 characters and "==").
// An encoding whose unused low bits are not zero still decodes to 16 bytes
// with a lenient decoder, so it may go either way.
func keyValid(values []string) int {
	if len(values) != 1 || len(values[0]) != 24 || values[0][22:] != "==" {
		return keyInvalid
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	k := values[0]
	for i := 0; i < 22; i++ {
		if strings.IndexByte(alphabet, k[i]) < 0 {
			return keyInvalid
		}
	}
	if strings.IndexByte(alphabet, k[21])&0xf != 0 {
		return keyNonCanonical
	}
	return keyValidCanonical
}

// FuzzHandshake sends arbitrary bytes that http.ReadRequest accepts as a
// request to an http.Server whose handler calls Accept, and checks the
// response against wantHandshake: a 101 with the right
// Sec-WebSocket-Accept, subprotocol and extra header exactly when the
// request is a valid opening handshake, otherwise the refusal the
// contract lists with its exact body and headers; and Accept must not
// panic or hang.
func FuzzHandshake(f *testing.F) {
	hs := newHandshakeServer(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			t.Skip("not a request")
		}
		dialled, err := net.Dial("tcp", hs.addr)
		require.NoError(t, err)
		nc := dialled.(*net.TCPConn)
		defer nc.Close()
		me := nc.LocalAddr().String()
		// Go's fuzzing kills a worker whose input runs 10s; fail first.
		nc.SetDeadline(time.Now().Add(4 * time.Second))
		go func() {
			// The end of input ends a body shorter than its
			// Content-Length, which the server reads before answering.
			nc.Write(raw)
			nc.CloseWrite()
		}()
		br := bufio.NewReader(nc)
		resp, err := http.ReadResponse(br, req)
		for err == nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode/100 == 1 {
			resp, err = http.ReadResponse(br, req)
		}
		// The handler reports before it answers, so its report on this
		// connection is waiting by now, if it was called. Reports about
		// requests pipelined behind earlier inputs are dropped.
		seen, called := handshakeSeen{}, false
		for !called && len(hs.seen) > 0 {
			seen = <-hs.seen
			called = seen.remoteAddr == me
		}
		if !called {
			// net/http answered by itself, without calling the handler.
			return
		}
		var done handshakeDone
		timeout := time.After(4 * time.Second)
		for done.remoteAddr != me {
			select {
			case done = <-hs.done:
			case <-timeout:
				t.Fatalf("Accept hung on %q", raw)
			}
		}
		if done.panic != nil {
			t.Fatalf("Accept panicked on %q: %v", raw, done.panic)
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("no response to %q", raw)
			}
			t.Fatalf("reading the response to %q: %v", raw, err)
		}
		checkHandshake(t, raw, seen, done, resp)
	})
}

// checkHandshake compares the response with wantHandshake and with what
// Accept returned.
func checkHandshake(t *testing.T, raw []byte, seen handshakeSeen, done handshakeDone, resp *http.Response) {
	t.Helper()
	want := wantHandshake(seen)
	got := handshakeOutcome{status: resp.StatusCode}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading the body of the response to %q: %v", raw, err)
		}
		got.body = string(body)
		if seen.method == http.MethodHead {
			// A HEAD response has no body; the status decides.
			for w := range want {
				if w.status == got.status {
					got.body = w.body
				}
			}
		}
	}
	if !want[got] {
		t.Fatalf("request %q\nheader %q\ngot %d %q, want one of %v", raw, seen.header, got.status, got.body, want)
	}
	switch got.status {
	case http.StatusSwitchingProtocols:
		if !done.conn || done.err != nil {
			t.Fatalf("101 sent for %q but Accept returned conn %v, %v", raw, done.conn, done.err)
		}
		if !rawpeer.HasToken(resp.Header["Upgrade"], "websocket") || !rawpeer.HasToken(resp.Header["Connection"], "upgrade") {
			t.Fatalf("101 for %q lacks Upgrade/Connection: %q", raw, resp.Header)
		}
		key := seen.header["Sec-Websocket-Key"][0]
		if a := resp.Header.Values("Sec-Websocket-Accept"); len(a) != 1 || a[0] != rawpeer.AcceptKey(key) {
			t.Fatalf("101 for key %q has Sec-WebSocket-Accept %q, want %q", key, a, rawpeer.AcceptKey(key))
		}
		var offered []string
		for _, v := range seen.header["Sec-Websocket-Protocol"] {
			for _, el := range strings.Split(v, ",") {
				offered = append(offered, strings.Trim(el, " \t"))
			}
		}
		wantProto := ""
		for _, p := range fuzzAcceptOptions().Subprotocols {
			if slices.Contains(offered, p) {
				wantProto = p
				break
			}
		}
		if p := resp.Header.Values("Sec-Websocket-Protocol"); wantProto == "" && len(p) != 0 || wantProto != "" && (len(p) != 1 || p[0] != wantProto) {
			t.Fatalf("101 for %q chose subprotocol %q, want %q", raw, p, wantProto)
		}
		if resp.Header.Get("X-Fuzz") != "1" {
			t.Fatalf("101 for %q lacks the extra header: %q", raw, resp.Header)
		}
	default:
		if done.conn || done.herr == nil || done.herr.Status != got.status || done.herr.Message != got.body {
			t.Fatalf("%d sent for %q but Accept returned conn %v, %v", got.status, raw, done.conn, done.err)
		}
		switch got.status {
		case http.StatusMethodNotAllowed:
			if resp.Header.Get("Allow") != http.MethodGet {
				t.Fatalf("405 without Allow: GET: %q", resp.Header)
			}
		case http.StatusUpgradeRequired:
			if resp.Header.Get("Sec-Websocket-Version") != "13" {
				t.Fatalf("426 without Sec-WebSocket-Version: 13: %q", resp.Header)
			}
		}
	}
}

// TestClientMaskingKeys checks what FuzzFrameReader's output check cannot
// see: a client's masking keys are fresh and unpredictable (RFC 6455
// section 5.3). Twenty frames with a zero key, or all with one key, would
// happen by chance with odds far below 2^-600.
func TestClientMaskingKeys(t *testing.T) {
	pairs := newTCPPairs(t)
	nc, peer := pairs.pair(t)
	defer peer.Close()
	c := newConn(nc, nil, false, "", nil)
	defer c.CloseNow()

	const frames = 20
	for i := range frames {
		require.NoError(t, c.WriteMessage(context.Background(), BinaryMessage, []byte{byte(i)}))
	}
	// Each frame is 0x82, 0x81 (masked, length 1), a 4-byte key and 1 byte.
	raw := make([]byte, frames*7)
	_, err := io.ReadFull(peer, raw)
	require.NoError(t, err)
	keys := map[uint32]bool{}
	zero := 0
	for i := range frames {
		f := raw[i*7 : (i+1)*7]
		require.Equal(t, []byte{0x82, 0x81}, f[:2], "frame %d", i)
		k := binary.LittleEndian.Uint32(f[2:6])
		keys[k] = true
		if k == 0 {
			zero++
		}
		require.Equal(t, byte(i), f[6]^f[2], "frame %d unmasks to its payload", i)
	}
	// Once a bug: the key batch started zeroed and was used before the
	// first rand.Read, so the first 16 keys of a connection were zero.
	require.Zero(t, zero, "zero masking keys")
	require.Greater(t, len(keys), frames/2, "distinct masking keys")
}
