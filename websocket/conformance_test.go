package websocket

// The RFC 6455 conformance suite, organised like the Autobahn TestSuite
// (sections 1-7, 9 and 10; section numbers in case names follow it). Every
// case is declared once, with the frames a scripted peer sends and what
// must come back, and runs over real TCP in both roles where it makes
// sense: our server against a scripted client ("server") and our client
// against a scripted server ("client"). Our side echoes every message with
// its type. Handshake cases and role-specific ones live in
// conformance_server_test.go and conformance_client_test.go; the machinery
// in conformance_helpers_test.go, and the scripted peer in internal/rawpeer.
//
// Run it alone with: go test -race -run TestConformance ./websocket/

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/rawpeer"
)

// confRoles says which of our roles a case runs in.
type confRoles int

const (
	confBoth       confRoles = iota
	confServerOnly           // our server against a scripted client
	confClientOnly           // our client against a scripted server
)

// confStep is one step of a script: queue a frame, or flush and read.
type confStep struct {
	send *rawpeer.Frame
	want *confWant
}

// confWant is what the scripted peer expects to read next: a whole data
// message (our side may fragment it however it likes) or one control frame.
type confWant struct {
	op      rawpeer.Opcode
	payload []byte
}

// confCase is one conformance case.
type confCase struct {
	name  string
	roles confRoles
	limit int64 // our ReadLimit; 0 means the default
	chop  bool  // the peer writes every byte in its own write call
	steps []confStep
	// fail is the code our side must fail the connection with. The peer
	// then answers the close, our side must close TCP, and its read must
	// return a *ProtocolError with this code.
	fail StatusCode
	// closed is set when the steps send a close frame: our side must echo
	// its code (an empty payload when Code is 1005) and its read must
	// return this *CloseError. When neither fail nor closed is set the
	// runner closes with 1000 after the steps.
	closed *CloseError
}

// Frame first bytes, for the tables below.
const (
	fin  = rawpeer.FIN
	rsv1 = rawpeer.RSV1
	rsv2 = rawpeer.RSV2
	rsv3 = rawpeer.RSV3
)

func cfSend(b0 byte, payload []byte) confStep {
	return confStep{send: &rawpeer.Frame{B0: b0, Payload: payload}}
}

func cfText(s string) confStep   { return cfSend(fin|byte(rawpeer.OpText), []byte(s)) }
func cfBinary(b []byte) confStep { return cfSend(fin|byte(rawpeer.OpBinary), b) }
func cfPing(s string) confStep   { return cfSend(fin|byte(rawpeer.OpPing), []byte(s)) }

// cfFrag sends one fragment: op is the opcode (OpText, OpBinary or
// OpContinuation), last sets FIN.
func cfFrag(op rawpeer.Opcode, last bool, s string) confStep {
	b0 := byte(op)
	if last {
		b0 |= fin
	}
	return cfSend(b0, []byte(s))
}

func cfClose(code uint16, reason string) confStep {
	return cfSend(fin|byte(rawpeer.OpClose), rawpeer.ClosePayload(code, reason))
}

func cfWant(op rawpeer.Opcode, payload []byte) confStep {
	return confStep{want: &confWant{op: op, payload: payload}}
}

func cfWantText(s string) confStep { return cfWant(rawpeer.OpText, []byte(s)) }
func cfWantPong(s string) confStep { return cfWant(rawpeer.OpPong, []byte(s)) }

// runConfCases runs each case in each of its roles, all in parallel.
func runConfCases(t *testing.T, cases []confCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.roles != confClientOnly {
				t.Run("server", func(t *testing.T) {
					t.Parallel()
					runConfCase(t, tc, true)
				})
			}
			if tc.roles != confServerOnly {
				t.Run("client", func(t *testing.T) {
					t.Parallel()
					runConfCase(t, tc, false)
				})
			}
		})
	}
}

// runConfCase plays tc's script against our echoing side and checks the
// closing: the close code on the wire, who closes TCP, and the error our
// side's read returned.
func runConfCase(t *testing.T, tc confCase, ourServer bool) {
	cp := confConnect(t, ourServer, tc.connOptions(), confEcho)
	playConfCase(t, tc, cp, ourServer)
}

// connOptions are our side's options for tc.
func (tc confCase) connOptions() ConnOptions {
	return ConnOptions{ReadLimit: tc.limit, CloseTimeout: confCloseTimeout}
}

// playConfCase plays tc on a connection made for it (our server's if
// ourServer).
func playConfCase(t *testing.T, tc confCase, cp *confPair, ourServer bool) {
	p := cp.peer
	p.Chop = tc.chop
	for i, s := range tc.steps {
		if s.send != nil {
			p.Queue(*s.send)
			continue
		}
		p.Expect(s.want.op, s.want.payload, fmt.Sprintf("step %d", i))
	}

	if tc.fail != 0 {
		p.ExpectCloseCode(uint16(tc.fail), "failing the connection")
		// Answer the close as a conforming peer would; our side may already
		// have closed TCP, so the write may fail.
		p.Chop = false
		p.Queue(rawpeer.Frame{B0: fin | byte(rawpeer.OpClose), Payload: rawpeer.ClosePayload(uint16(tc.fail), "")})
		_ = p.TryFlush()
		p.ExpectTCPClose(confTCPCloseWait, "after failing the connection")
		confProtocolError(t, cp.wait(t), tc.fail)
		return
	}

	closed := tc.closed
	if closed == nil {
		p.Queue(rawpeer.Frame{B0: fin | byte(rawpeer.OpClose), Payload: rawpeer.ClosePayload(1000, "")})
		closed = &CloseError{Code: StatusNormalClosure}
	}
	echo := p.ExpectClose("echo of the peer's close")
	if closed.Code == StatusNoStatusReceived {
		require.Empty(t, echo, "an empty close must be echoed empty")
	} else {
		require.GreaterOrEqual(t, len(echo), 2, "close echo without a code")
		code, _, err := rawpeer.ParseClose(echo)
		require.NoError(t, err, "our close echo is invalid")
		require.Equal(t, closed.Code, StatusCode(code), "close echo code")
	}
	if ourServer {
		// RFC 6455 section 7.1.1: the server closes TCP first.
		p.ExpectTCPClose(confTCPCloseWait, "our server after the closing handshake")
	} else {
		p.Conn.Close()
	}
	confCloseError(t, cp.wait(t), closed.Code, closed.Reason)
}

// TestConformanceFraming is Autobahn section 1: text and binary messages of
// the sizes around the length encodings' boundaries, echoed exactly.
func TestConformanceFraming(t *testing.T) {
	t.Parallel()
	var cases []confCase
	for _, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
		text := bytes.Repeat([]byte("*"), n)
		bin := confBinaryOf(n)
		cases = append(cases,
			confCase{name: fmt.Sprintf("1.1 text %d", n), steps: []confStep{
				cfSend(fin|byte(rawpeer.OpText), text), cfWant(rawpeer.OpText, text)}},
			confCase{name: fmt.Sprintf("1.2 binary %d", n), steps: []confStep{
				cfBinary(bin), cfWant(rawpeer.OpBinary, bin)}},
		)
	}
	cases = append(cases,
		confCase{name: "1.1 text 65536 of mixed runes", steps: []confStep{
			cfSend(fin|byte(rawpeer.OpText), confTextOf(65536)), cfWant(rawpeer.OpText, confTextOf(65536))}},
		confCase{name: "1.2 binary 128 chopped", chop: true, steps: []confStep{
			cfBinary(confBinaryOf(128)), cfWant(rawpeer.OpBinary, confBinaryOf(128))}},
		confCase{name: "1.1 several messages in one write", steps: []confStep{
			cfText("one"), cfBinary([]byte{0, 1, 2}), cfText(""),
			cfWantText("one"), cfWant(rawpeer.OpBinary, []byte{0, 1, 2}), cfWantText("")}},
	)
	runConfCases(t, cases)
}

// TestConformancePingPong is Autobahn section 2.
func TestConformancePingPong(t *testing.T) {
	t.Parallel()
	p125 := strings.Repeat("\xfe", 125)
	bin := string(confBinaryOf(125))
	var ten, tenPongs []confStep
	for i := range 10 {
		ten = append(ten, cfPing(fmt.Sprintf("ping %d", i)))
		tenPongs = append(tenPongs, cfWantPong(fmt.Sprintf("ping %d", i)))
	}
	runConfCases(t, []confCase{
		{name: "2.1 empty ping", steps: []confStep{cfPing(""), cfWantPong("")}},
		{name: "2.2 text payload", steps: []confStep{cfPing("Hello, world!"), cfWantPong("Hello, world!")}},
		{name: "2.3 binary payload", steps: []confStep{cfPing("\x00\xff\xfe\xfd\xfc\xfb\x00\xff"), cfWantPong("\x00\xff\xfe\xfd\xfc\xfb\x00\xff")}},
		{name: "2.4 125-byte ping", steps: []confStep{cfPing(p125), cfWantPong(p125)}},
		{name: "2.4 125 bytes of every value", steps: []confStep{cfPing(bin), cfWantPong(bin)}},
		{name: "2.5 126-byte ping", steps: []confStep{cfPing(p125 + "\xfe")}, fail: StatusProtocolError},
		{name: "2.6 125-byte ping chopped", chop: true, steps: []confStep{cfPing(p125), cfWantPong(p125)}},
		{name: "2.7 unsolicited pong ignored", steps: []confStep{
			cfSend(fin|byte(rawpeer.OpPong), nil), cfText("after"), cfWantText("after")}},
		{name: "2.8 unsolicited pong with payload ignored", steps: []confStep{
			cfSend(fin|byte(rawpeer.OpPong), []byte("unsolicited")), cfText("after"), cfWantText("after")}},
		{name: "2.9 unsolicited pong then ping", steps: []confStep{
			cfSend(fin|byte(rawpeer.OpPong), []byte("unsolicited")), cfPing("solicited"), cfWantPong("solicited")}},
		{name: "2.10 ten pings in a row", steps: append(ten, tenPongs...)},
		{name: "2.11 ten pings chopped", chop: true, steps: append(ten, tenPongs...)},
	})
}

// TestConformanceReservedBits is Autobahn section 3: RSV bits without a
// negotiated extension fail the connection, on data and control frames.
func TestConformanceReservedBits(t *testing.T) {
	t.Parallel()
	runConfCases(t, []confCase{
		{name: "3.1 RSV1 on text", steps: []confStep{cfSend(fin|rsv1|byte(rawpeer.OpText), []byte("Hello"))}, fail: StatusProtocolError},
		{name: "3.2 RSV2 on text after a good one", steps: []confStep{
			cfText("good"), cfSend(fin|rsv2|byte(rawpeer.OpText), []byte("bad")), cfWantText("good")}, fail: StatusProtocolError},
		{name: "3.3 RSV1+2 on text after a good one chopped", chop: true, steps: []confStep{
			cfText("good"), cfSend(fin|rsv1|rsv2|byte(rawpeer.OpText), []byte("bad")), cfWantText("good")}, fail: StatusProtocolError},
		{name: "3.4 RSV3 on text", steps: []confStep{cfSend(fin|rsv3|byte(rawpeer.OpText), []byte("Hello"))}, fail: StatusProtocolError},
		{name: "3.5 RSV1+3 on binary", steps: []confStep{cfSend(fin|rsv1|rsv3|byte(rawpeer.OpBinary), []byte{0, 1, 2})}, fail: StatusProtocolError},
		{name: "3.6 RSV2+3 on ping", steps: []confStep{cfSend(fin|rsv2|rsv3|byte(rawpeer.OpPing), []byte("p"))}, fail: StatusProtocolError},
		{name: "3.7 RSV1+2+3 on close", steps: []confStep{cfSend(fin|rsv1|rsv2|rsv3|byte(rawpeer.OpClose), rawpeer.ClosePayload(1000, ""))}, fail: StatusProtocolError},
		{name: "3.8 RSV1 on pong", steps: []confStep{cfSend(fin|rsv1|byte(rawpeer.OpPong), nil)}, fail: StatusProtocolError},
		{name: "3.9 RSV1 on continuation", steps: []confStep{
			cfFrag(rawpeer.OpText, false, "frag"), cfSend(fin|rsv1|byte(rawpeer.OpContinuation), []byte("ment"))}, fail: StatusProtocolError},
	})
}

// TestConformanceOpcodes is Autobahn section 4: reserved opcodes fail the
// connection, with or without payload, alone or after a good message.
func TestConformanceOpcodes(t *testing.T) {
	t.Parallel()
	var cases []confCase
	for _, op := range []byte{3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf} {
		cases = append(cases,
			confCase{name: fmt.Sprintf("4 opcode %#x", op), steps: []confStep{cfSend(fin|op, nil)}, fail: StatusProtocolError},
			confCase{name: fmt.Sprintf("4 opcode %#x with payload after a good message", op), steps: []confStep{
				cfText("good"), cfSend(fin|op, []byte("reserved")), cfPing("never answered"), cfWantText("good")},
				fail: StatusProtocolError},
		)
	}
	runConfCases(t, cases)
}

// TestConformanceFragmentation is Autobahn section 5.
func TestConformanceFragmentation(t *testing.T) {
	t.Parallel()
	runConfCases(t, []confCase{
		{name: "5.1 fragmented ping", steps: []confStep{
			cfSend(byte(rawpeer.OpPing), []byte("frag")), cfFrag(rawpeer.OpContinuation, true, "ment")}, fail: StatusProtocolError},
		{name: "5.2 fragmented pong", steps: []confStep{
			cfSend(byte(rawpeer.OpPong), []byte("frag")), cfFrag(rawpeer.OpContinuation, true, "ment")}, fail: StatusProtocolError},
		{name: "5.2 fragmented close", steps: []confStep{
			cfSend(byte(rawpeer.OpClose), rawpeer.ClosePayload(1000, "frag")), cfFrag(rawpeer.OpContinuation, true, "ment")}, fail: StatusProtocolError},
		{name: "5.3 text in two fragments", steps: []confStep{
			cfFrag(rawpeer.OpText, false, "fragment1"), cfFrag(rawpeer.OpContinuation, true, "fragment2"), cfWantText("fragment1fragment2")}},
		{name: "5.5 text in two fragments chopped", chop: true, steps: []confStep{
			cfFrag(rawpeer.OpText, false, "fragment1"), cfFrag(rawpeer.OpContinuation, true, "fragment2"), cfWantText("fragment1fragment2")}},
		{name: "5.3 binary in three fragments", steps: []confStep{
			cfFrag(rawpeer.OpBinary, false, "\x00\x01"), cfFrag(rawpeer.OpContinuation, false, "\xff"), cfFrag(rawpeer.OpContinuation, true, "\xfe"),
			cfWant(rawpeer.OpBinary, []byte{0, 1, 0xff, 0xfe})}},
		{name: "5.6 ping inside a fragmented text", steps: []confStep{
			cfFrag(rawpeer.OpText, false, "fragment1"), cfPing("ping payload"), cfFrag(rawpeer.OpContinuation, true, "fragment2"),
			cfWantPong("ping payload"), cfWantText("fragment1fragment2")}},
		{name: "5.7 ping inside a fragmented text chopped", chop: true, steps: []confStep{
			cfFrag(rawpeer.OpText, false, "fragment1"), cfPing("ping payload"), cfFrag(rawpeer.OpContinuation, true, "fragment2"),
			cfWantPong("ping payload"), cfWantText("fragment1fragment2")}},
		{name: "5.8 ping answered before the message ends", steps: []confStep{
			cfFrag(rawpeer.OpBinary, false, "fragment1"), cfPing("now"), cfWantPong("now"),
			cfFrag(rawpeer.OpContinuation, true, "fragment2"), cfWant(rawpeer.OpBinary, []byte("fragment1fragment2"))}},
		{name: "5.8 pong inside a fragmented text ignored", steps: []confStep{
			cfFrag(rawpeer.OpText, false, "fragment1"), cfSend(fin|byte(rawpeer.OpPong), []byte("x")), cfFrag(rawpeer.OpContinuation, true, "fragment2"),
			cfWantText("fragment1fragment2")}},
		{name: "5.9 continuation without start, FIN", steps: []confStep{
			cfFrag(rawpeer.OpContinuation, true, "nothing to continue")}, fail: StatusProtocolError},
		{name: "5.10 continuation without start, FIN, chopped", chop: true, steps: []confStep{
			cfFrag(rawpeer.OpContinuation, true, "nothing to continue")}, fail: StatusProtocolError},
		{name: "5.12 continuation without start, no FIN", steps: []confStep{
			cfFrag(rawpeer.OpContinuation, false, "nothing to continue")}, fail: StatusProtocolError},
		{name: "5.15 stray continuation after a finished message", steps: []confStep{
			cfFrag(rawpeer.OpText, false, "fragment1"), cfFrag(rawpeer.OpContinuation, true, "fragment2"),
			cfFrag(rawpeer.OpContinuation, false, "fragment3"), cfText("fragment4"),
			cfWantText("fragment1fragment2")}, fail: StatusProtocolError},
		{name: "5.18 new text frame inside a fragmented text", steps: []confStep{
			cfFrag(rawpeer.OpText, false, "fragment1"), cfFrag(rawpeer.OpText, true, "fragment2")}, fail: StatusProtocolError},
		{name: "5.18 new binary frame inside a fragmented text", steps: []confStep{
			cfFrag(rawpeer.OpText, false, "fragment1"), cfFrag(rawpeer.OpBinary, false, "fragment2")}, fail: StatusProtocolError},
		{name: "5.19 text in five fragments with pings between", steps: []confStep{
			cfFrag(rawpeer.OpText, false, "f1"), cfFrag(rawpeer.OpContinuation, false, "f2"), cfPing("p1"), cfWantPong("p1"),
			cfFrag(rawpeer.OpContinuation, false, "f3"), cfFrag(rawpeer.OpContinuation, false, "f4"), cfPing("p2"), cfWantPong("p2"),
			cfFrag(rawpeer.OpContinuation, true, "f5"), cfWantText("f1f2f3f4f5")}},
		{name: "5.20 text in five fragments with pings between chopped", chop: true, steps: []confStep{
			cfFrag(rawpeer.OpText, false, "f1"), cfFrag(rawpeer.OpContinuation, false, "f2"), cfPing("p1"), cfWantPong("p1"),
			cfFrag(rawpeer.OpContinuation, false, "f3"), cfFrag(rawpeer.OpContinuation, false, "f4"), cfPing("p2"), cfWantPong("p2"),
			cfFrag(rawpeer.OpContinuation, true, "f5"), cfWantText("f1f2f3f4f5")}},
		{name: "6.1.2 three empty fragments", steps: []confStep{
			cfFrag(rawpeer.OpText, false, ""), cfFrag(rawpeer.OpContinuation, false, ""), cfFrag(rawpeer.OpContinuation, true, ""), cfWantText("")}},
		{name: "6.1.3 empty fragments around a payload", steps: []confStep{
			cfFrag(rawpeer.OpText, false, ""), cfFrag(rawpeer.OpContinuation, false, "middle frame payload"), cfFrag(rawpeer.OpContinuation, true, ""),
			cfWantText("middle frame payload")}},
		{name: "empty binary fragments", steps: []confStep{
			cfFrag(rawpeer.OpBinary, false, ""), cfFrag(rawpeer.OpContinuation, true, ""), cfWant(rawpeer.OpBinary, nil)}},
		{name: "close inside a fragmented message", steps: []confStep{
			cfFrag(rawpeer.OpText, false, "fragment1"), cfClose(1000, "mid-message"), cfFrag(rawpeer.OpContinuation, true, "fragment2")},
			closed: &CloseError{Code: 1000, Reason: "mid-message"}},
	})
}

// TestConformanceUTF8 is Autobahn section 6, over the cases of
// autobahnUTF8Cases (utf8_test.go): each text whole, in one-byte fragments,
// split in two at every byte boundary and chopped. An invalid text must
// fail the connection with 1007 as soon as the bytes received make it
// invalid: the close must arrive while the message is still unfinished,
// before the peer sends the fragments after the offending byte.
func TestConformanceUTF8(t *testing.T) {
	t.Parallel()
	type utf8Case = struct {
		name  string
		text  string
		valid bool
		fail  int // index of the byte that makes the text invalid; -1: only its end does
	}
	utf8Cases := append(append([]utf8Case{}, autobahnUTF8Cases...),
		utf8Case{"U+DC00 lone low surrogate", "ab\xed\xb0\x80", false, 3},
		utf8Case{"F5 lead byte", "a\xf5\x80\x80\x80", false, 1},
		utf8Case{"U+10FFFF then U+110000", "\xf4\x8f\xbf\xbf\xf4\x90\x80\x80", false, 5},
	)
	var cases []confCase
	for _, tc := range utf8Cases {
		text := tc.text
		if tc.valid {
			steps := []confStep{cfText(text), cfWantText(text)}
			if len(text) > 0 {
				for i := range len(text) {
					op := rawpeer.OpContinuation
					if i == 0 {
						op = rawpeer.OpText
					}
					steps = append(steps, cfFrag(op, i == len(text)-1, text[i:i+1]))
				}
				steps = append(steps, cfWantText(text))
			}
			for i := 1; i < len(text); i++ {
				steps = append(steps, cfFrag(rawpeer.OpText, false, text[:i]), cfFrag(rawpeer.OpContinuation, true, text[i:]), cfWantText(text))
			}
			cases = append(cases, confCase{name: tc.name + " valid", steps: steps})
			continue
		}
		require.Equal(t, tc.fail, failPos([]byte(text)), "%s: fail position", tc.name)
		fail := func(steps ...confStep) []confStep { return steps }
		cases = append(cases,
			confCase{name: tc.name + " whole", steps: fail(cfText(text)), fail: StatusInvalidFramePayloadData},
			confCase{name: tc.name + " chopped", chop: true, steps: fail(cfText(text)), fail: StatusInvalidFramePayloadData},
		)
		// One byte per fragment, stopping after the byte that makes the
		// text invalid: the close must come without more fragments.
		var bytewise []confStep
		for i := range len(text) {
			op := rawpeer.OpContinuation
			if i == 0 {
				op = rawpeer.OpText
			}
			bytewise = append(bytewise, cfFrag(op, i == len(text)-1, text[i:i+1]))
			if i == tc.fail {
				break
			}
		}
		cases = append(cases, confCase{name: tc.name + " byte fragments", steps: bytewise, fail: StatusInvalidFramePayloadData})
		for i := 1; i < len(text); i++ {
			steps := []confStep{cfFrag(rawpeer.OpText, false, text[:i])}
			name := fmt.Sprintf("%s split %d", tc.name, i)
			if tc.fail < 0 || tc.fail >= i {
				steps = append(steps, cfFrag(rawpeer.OpContinuation, true, text[i:]))
			} else {
				name += " fail fast"
			}
			cases = append(cases, confCase{name: name, steps: steps, fail: StatusInvalidFramePayloadData})
		}
	}
	cases = append(cases,
		confCase{name: "valid message then invalid one", steps: []confStep{
			cfText("κόσμε"), cfWantText("κόσμε"), cfText("\xce\xba\xe1\xbd")}, fail: StatusInvalidFramePayloadData},
		confCase{name: "invalid byte in a later fragment fails before FIN", steps: []confStep{
			cfFrag(rawpeer.OpText, false, "κόσ"), cfFrag(rawpeer.OpContinuation, false, "με"), cfFrag(rawpeer.OpContinuation, false, "\xed\xa0\x80")},
			fail: StatusInvalidFramePayloadData},
		confCase{name: "rune split across fragments with a ping between", steps: []confStep{
			cfFrag(rawpeer.OpText, false, "\xf0\x9f"), cfPing("p"), cfWantPong("p"), cfFrag(rawpeer.OpContinuation, true, "\x98\x80"),
			cfWantText("😀")}},
		confCase{name: "binary messages are not UTF-8 checked", steps: []confStep{
			cfBinary([]byte("\xed\xa0\x80\xff")), cfWant(rawpeer.OpBinary, []byte("\xed\xa0\x80\xff"))}},
		confCase{name: "ping payloads are not UTF-8 checked", steps: []confStep{
			cfPing("\xff\xfe"), cfWantPong("\xff\xfe")}},
	)
	runConfCases(t, cases)
}

// TestConformanceClose is Autobahn section 7.
func TestConformanceClose(t *testing.T) {
	t.Parallel()
	reason123 := strings.Repeat("r", 121) + "é" // 123 bytes, a two-byte rune at the end
	require.Len(t, reason123, 123)
	cases := []confCase{
		{name: "7.1.1 echo then close", steps: []confStep{cfText("Hello"), cfWantText("Hello")}},
		{name: "7.1.2 close twice", steps: []confStep{cfClose(1000, ""), cfClose(1000, "")},
			closed: &CloseError{Code: 1000}},
		{name: "7.1.3 ping after close not answered", steps: []confStep{cfClose(1000, ""), cfPing("late")},
			closed: &CloseError{Code: 1000}},
		{name: "7.1.4 text after close ignored", steps: []confStep{cfClose(1000, ""), cfText("late")},
			closed: &CloseError{Code: 1000}},
		{name: "7.1.5 fragment after close ignored", steps: []confStep{
			cfFrag(rawpeer.OpText, false, "fragment1"), cfClose(1000, ""), cfFrag(rawpeer.OpContinuation, true, "fragment2")},
			closed: &CloseError{Code: 1000}},
		{name: "7.1.6 large message then close", steps: []confStep{
			cfSend(fin|byte(rawpeer.OpText), confTextOf(256<<10)), cfClose(1000, ""), cfPing("late"), cfWant(rawpeer.OpText, confTextOf(256<<10))},
			closed: &CloseError{Code: 1000}},
		{name: "7.3.1 empty close echoed empty", steps: []confStep{cfSend(fin|byte(rawpeer.OpClose), nil)},
			closed: &CloseError{Code: StatusNoStatusReceived}},
		{name: "7.3.2 one-byte close payload", steps: []confStep{cfSend(fin|byte(rawpeer.OpClose), []byte{0x03})},
			fail: StatusProtocolError},
		{name: "7.3.3 close 1000 without reason", steps: []confStep{cfClose(1000, "")},
			closed: &CloseError{Code: 1000}},
		{name: "7.3.4 close 1000 with reason", steps: []confStep{cfClose(1000, "Hello World!")},
			closed: &CloseError{Code: 1000, Reason: "Hello World!"}},
		{name: "7.3.5 close with a 123-byte reason", steps: []confStep{cfClose(1000, reason123)},
			closed: &CloseError{Code: 1000, Reason: reason123}},
		{name: "7.3.6 close with a 124-byte reason", steps: []confStep{cfClose(1000, reason123+"x")},
			fail: StatusProtocolError},
		{name: "7.5.1 invalid UTF-8 reason", steps: []confStep{cfClose(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64")},
			fail: StatusProtocolError},
		{name: "7.5.1 truncated UTF-8 reason", steps: []confStep{cfClose(1000, "caf\xc3")},
			fail: StatusProtocolError},
		{name: "7.1.6 close chopped", chop: true, steps: []confStep{cfClose(1001, "bye")},
			closed: &CloseError{Code: 1001, Reason: "bye"}},
	}
	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		cases = append(cases, confCase{name: fmt.Sprintf("7.7 valid code %d echoed", code),
			steps: []confStep{cfClose(code, "")}, closed: &CloseError{Code: StatusCode(code)}})
	}
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, confCase{name: fmt.Sprintf("7.9 invalid code %d", code),
			steps: []confStep{cfClose(code, "")}, fail: StatusProtocolError})
	}
	runConfCases(t, cases)
}

// TestConformanceLimits is Autobahn section 9 (large messages, fragmented
// in various sizes) plus the read limit: a message over it, and frame
// headers declaring absurd lengths, which must be refused from the header
// alone.
func TestConformanceLimits(t *testing.T) {
	t.Parallel()
	var cases []confCase
	type size struct {
		n     int
		chunk []int // 0: one frame
	}
	for _, s := range []size{{1 << 20, []int{0, 64, 1 << 10, 4 << 10}}, {4 << 20, []int{0, 64 << 10, 1 << 20}}} {
		text, bin := confTextOf(s.n), confBinaryOf(s.n)
		for _, chunk := range s.chunk {
			for _, op := range []rawpeer.Opcode{rawpeer.OpText, rawpeer.OpBinary} {
				msg := bin
				if op == rawpeer.OpText {
					msg = text
				}
				name := fmt.Sprintf("9 %s %d KiB", op, s.n>>10)
				var steps []confStep
				if chunk == 0 {
					steps = append(steps, cfSend(fin|byte(op), msg))
				} else {
					name += fmt.Sprintf(" in %d-byte fragments", chunk)
					for i := 0; i < len(msg); i += chunk {
						b0 := byte(rawpeer.OpContinuation)
						if i == 0 {
							b0 = byte(op)
						}
						end := min(i+chunk, len(msg))
						if end == len(msg) {
							b0 |= fin
						}
						steps = append(steps, cfSend(b0, msg[i:end]))
					}
				}
				cases = append(cases, confCase{name: name, steps: append(steps, cfWant(op, msg))})
			}
		}
	}
	const limit = 1024
	cases = append(cases,
		confCase{name: "limit message of exactly the limit", limit: limit, steps: []confStep{
			cfSend(fin|byte(rawpeer.OpBinary), confBinaryOf(limit)), cfWant(rawpeer.OpBinary, confBinaryOf(limit))}},
		confCase{name: "limit fragmented message of exactly the limit", limit: limit, steps: []confStep{
			cfFrag(rawpeer.OpText, false, strings.Repeat("a", 1000)), cfFrag(rawpeer.OpContinuation, true, strings.Repeat("b", 24)),
			cfWantText(strings.Repeat("a", 1000) + strings.Repeat("b", 24))}},
		confCase{name: "limit one frame over", limit: limit, steps: []confStep{
			cfSend(fin|byte(rawpeer.OpText), bytes.Repeat([]byte("a"), limit+1))}, fail: StatusMessageTooBig},
		confCase{name: "limit header over, payload never sent", limit: limit, steps: []confStep{
			{send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpBinary), Declared: limit + 1}}}, fail: StatusMessageTooBig},
		confCase{name: "limit fragments over before FIN", limit: limit, steps: []confStep{
			cfFrag(rawpeer.OpBinary, false, strings.Repeat("a", 600)), cfFrag(rawpeer.OpContinuation, false, strings.Repeat("b", 600))},
			fail: StatusMessageTooBig},
		confCase{name: "limit control frames do not count", limit: limit, steps: []confStep{
			cfFrag(rawpeer.OpText, false, strings.Repeat("a", 1000)), cfPing(strings.Repeat("p", 125)), cfWantPong(strings.Repeat("p", 125)),
			cfFrag(rawpeer.OpContinuation, true, strings.Repeat("b", 24)),
			cfWantText(strings.Repeat("a", 1000) + strings.Repeat("b", 24))}},
		confCase{name: "declared length 2^62", steps: []confStep{
			{send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpBinary), Declared: 1 << 62}}}, fail: StatusMessageTooBig},
		confCase{name: "declared length 2^63 (top bit set)", steps: []confStep{
			{send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpBinary), Declared: 1 << 63}}}, fail: StatusProtocolError},
		confCase{name: "declared length 2^64-1", steps: []confStep{
			{send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpText), Declared: 1<<64 - 1}}}, fail: StatusProtocolError},
		confCase{name: "declared length 1 GiB over the default limit", steps: []confStep{
			{send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpBinary), Declared: 1 << 30}}}, fail: StatusMessageTooBig},
		confCase{name: "declared length 2^62 in a continuation", steps: []confStep{
			cfFrag(rawpeer.OpBinary, false, "x"), {send: &rawpeer.Frame{B0: fin | byte(rawpeer.OpContinuation), Declared: 1 << 62}}},
			fail: StatusMessageTooBig},
	)
	runConfCases(t, cases)
}

// TestConformanceDeclaredLengthNoAlloc checks that a frame header's length
// is not allocated before the payload arrives: a header declaring 1 GiB
// followed by a few bytes, read without a limit, must cost our side far
// less than 1 GiB, and one declaring 2^62 under the default limit must be
// refused (1009) at once. Then the peer drops TCP mid-message, which our
// read reports as ErrClosed with io.ErrUnexpectedEOF, not as a protocol
// error. Not parallel, so that the allocation count is ours alone.
func TestConformanceDeclaredLengthNoAlloc(t *testing.T) {
	const budget = 64 << 20
	for _, ourServer := range []bool{true, false} {
		role := map[bool]string{true: "server", false: "client"}[ourServer]
		t.Run("1 GiB without a limit/"+role, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			cp := confConnect(t, ourServer, ConnOptions{ReadLimit: -1, CloseTimeout: confCloseTimeout}, confEcho)
			p := cp.peer
			p.Queue(rawpeer.Frame{B0: fin | byte(rawpeer.OpBinary), Declared: 1 << 30, Payload: confBinaryOf(4096)})
			p.Flush()
			time.Sleep(200 * time.Millisecond) // let our side read what came
			runtime.ReadMemStats(&after)
			p.Conn.Close()
			err := cp.wait(t)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(budget), "bytes allocated for a 1 GiB header with 4 KiB behind it")
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrClosed)
			assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
			assert.NotErrorIs(t, err, ErrProtocol)
		})
		t.Run("2^62 under the default limit/"+role, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			cp := confConnect(t, ourServer, ConnOptions{CloseTimeout: confCloseTimeout}, confEcho)
			p := cp.peer
			p.Queue(rawpeer.Frame{B0: fin | byte(rawpeer.OpText), Declared: 1 << 62, Payload: []byte("abc")})
			p.ExpectCloseCode(uint16(StatusMessageTooBig), "2^62-byte header")
			p.ExpectTCPClose(confTCPCloseWait, "after 1009")
			confProtocolError(t, cp.wait(t), StatusMessageTooBig)
			runtime.ReadMemStats(&after)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(budget), "bytes allocated for a 2^62 header")
		})
	}
}

// TestConformanceMisc is Autobahn section 10 and the write side: what our
// Conn sends by itself (NextWriter fragments, prepared messages, pings and
// its own close) in both roles.
func TestConformanceMisc(t *testing.T) {
	t.Parallel()
	runConfCases(t, []confCase{
		{name: "10.1.1 65536-byte text echoed", steps: []confStep{
			cfSend(fin|byte(rawpeer.OpText), confTextOf(65536)), cfWant(rawpeer.OpText, confTextOf(65536))}},
	})
	for _, ourServer := range []bool{true, false} {
		role := map[bool]string{true: "server", false: "client"}[ourServer]
		t.Run("NextWriter fragments/"+role, func(t *testing.T) {
			t.Parallel()
			// Small writes are gathered and large ones sent as they come;
			// either way a message of unknown length leaves in several
			// fragments of bounded size, not held whole.
			msg := confTextOf(64 << 10)
			cp := confConnect(t, ourServer, ConnOptions{CloseTimeout: confCloseTimeout}, func(ctx context.Context, c *Conn) error {
				for _, chunk := range []int{1000, 9000} {
					w, err := c.NextWriter(ctx, TextMessage)
					if err != nil {
						return err
					}
					for i := 0; i < len(msg); i += chunk {
						if _, err := w.Write(msg[i:min(i+chunk, len(msg))]); err != nil {
							return err
						}
					}
					if err := w.Close(); err != nil {
						return err
					}
				}
				w, err := c.NextWriter(ctx, BinaryMessage)
				if err != nil {
					return err
				}
				if err := w.Close(); err != nil { // an empty message
					return err
				}
				return confEcho(ctx, c)
			})
			p := cp.peer
			for _, chunk := range []int{1000, 9000} {
				var got []byte
				frames := 0
				for {
					h, payload, err := p.ReadFrame()
					require.NoError(t, err, "%d-byte writes: fragment %d", chunk, frames)
					if frames == 0 {
						require.Equal(t, rawpeer.OpText, h.Op, "%d-byte writes: first fragment", chunk)
					} else {
						require.Equal(t, rawpeer.OpContinuation, h.Op, "%d-byte writes: fragment %d", chunk, frames)
					}
					assert.LessOrEqual(t, len(payload), max(chunk, writeBufferSize), "%d-byte writes: fragment %d size", chunk, frames)
					got = append(got, payload...)
					frames++
					if h.Fin {
						break
					}
				}
				assert.Greater(t, frames, len(msg)/(max(chunk, writeBufferSize)+1), "%d-byte writes: fragments", chunk)
				assert.True(t, string(msg) == string(got), "%d-byte writes: reassembled message differs", chunk)
			}
			p.Expect(rawpeer.OpBinary, nil, "empty message from NextWriter")
			p.Queue(rawpeer.Frame{B0: fin | byte(rawpeer.OpClose), Payload: rawpeer.ClosePayload(1000, "")})
			p.ExpectCloseCode(1000, "close echo")
			if ourServer {
				p.ExpectTCPClose(confTCPCloseWait, "our server after the close")
			} else {
				p.Conn.Close()
			}
			confCloseError(t, cp.wait(t), 1000, "")
		})

		t.Run("NextWriter lets pings through between fragments/"+role, func(t *testing.T) {
			t.Parallel()
			part1, part2 := confBinaryOf(8<<10), confBinaryOf(8<<10+1)
			more := make(chan struct{})
			cp := confConnect(t, ourServer, ConnOptions{CloseTimeout: confCloseTimeout}, func(ctx context.Context, c *Conn) error {
				w, err := c.NextWriter(ctx, BinaryMessage)
				if err != nil {
					return err
				}
				// Larger than the write buffer: goes out as a fragment now.
				if _, err := w.Write(part1); err != nil {
					return err
				}
				// While this message is open, a reader on another goroutine
				// answers the peer's ping.
				readErr := make(chan error, 1)
				go func() {
					_, _, err := c.ReadMessage(ctx)
					readErr <- err
				}()
				select {
				case <-more:
				case <-ctx.Done():
					w.Close()
					return ctx.Err()
				}
				if _, err := w.Write(part2); err != nil {
					return err
				}
				if err := w.Close(); err != nil {
					return err
				}
				return <-readErr
			})
			p := cp.peer
			var got []byte
			h, payload, err := p.ReadFrame()
			require.NoError(t, err)
			require.Equal(t, rawpeer.OpBinary, h.Op)
			require.False(t, h.Fin, "the message was not finished")
			got = append(got, payload...)
			p.Queue(rawpeer.Frame{B0: fin | byte(rawpeer.OpPing), Payload: []byte("between")})
			p.Expect(rawpeer.OpPong, []byte("between"), "pong between fragments")
			close(more)
			for !h.Fin {
				h, payload, err = p.ReadFrame()
				require.NoError(t, err)
				require.Equal(t, rawpeer.OpContinuation, h.Op)
				got = append(got, payload...)
			}
			require.True(t, string(got) == string(part1)+string(part2), "reassembled message differs")
			p.Queue(rawpeer.Frame{B0: fin | byte(rawpeer.OpClose), Payload: rawpeer.ClosePayload(1000, "")})
			p.ExpectCloseCode(1000, "close echo")
			if !ourServer {
				p.Conn.Close()
			}
			confCloseError(t, cp.wait(t), 1000, "")
		})

		t.Run("prepared message/"+role, func(t *testing.T) {
			t.Parallel()
			pm, err := NewPreparedMessage(TextMessage, []byte("prepared once"))
			require.NoError(t, err)
			cp := confConnect(t, ourServer, ConnOptions{CloseTimeout: confCloseTimeout}, func(ctx context.Context, c *Conn) error {
				for range 2 {
					if err := c.WritePrepared(ctx, pm); err != nil {
						return err
					}
				}
				return confEcho(ctx, c)
			})
			p := cp.peer
			p.Expect(rawpeer.OpText, []byte("prepared once"), "first prepared")
			p.Expect(rawpeer.OpText, []byte("prepared once"), "second prepared")
			p.Queue(rawpeer.Frame{B0: fin | byte(rawpeer.OpClose), Payload: rawpeer.ClosePayload(1000, "")})
			p.ExpectCloseCode(1000, "close echo")
			if !ourServer {
				p.Conn.Close()
			}
			confCloseError(t, cp.wait(t), 1000, "")
		})

		t.Run("our ping and the peer's pong/"+role, func(t *testing.T) {
			t.Parallel()
			pongs := make(chan string, 1)
			pings := make(chan string, 1)
			opts := ConnOptions{CloseTimeout: confCloseTimeout,
				OnPong: func(b []byte) { pongs <- string(b) },
				OnPing: func(b []byte) { pings <- string(b) }}
			cp := confConnect(t, ourServer, opts, func(ctx context.Context, c *Conn) error {
				if err := c.Ping(ctx, []byte("are you there")); err != nil {
					return err
				}
				if err := c.Ping(ctx, make([]byte, 126)); err == nil {
					return fmt.Errorf("Ping with 126 bytes succeeded")
				}
				return confEcho(ctx, c)
			})
			p := cp.peer
			p.Expect(rawpeer.OpPing, []byte("are you there"), "our ping")
			p.Queue(rawpeer.Frame{B0: fin | byte(rawpeer.OpPong), Payload: []byte("are you there")})
			p.Queue(rawpeer.Frame{B0: fin | byte(rawpeer.OpPing), Payload: []byte("and you?")})
			p.Expect(rawpeer.OpPong, []byte("and you?"), "our pong")
			select {
			case got := <-pongs:
				assert.Equal(t, "are you there", got, "OnPong")
			case <-time.After(rawpeer.Timeout):
				t.Error("OnPong not called")
			}
			select {
			case got := <-pings:
				assert.Equal(t, "and you?", got, "OnPing")
			case <-time.After(rawpeer.Timeout):
				t.Error("OnPing not called")
			}
			p.Queue(rawpeer.Frame{B0: fin | byte(rawpeer.OpClose), Payload: rawpeer.ClosePayload(1000, "")})
			p.ExpectCloseCode(1000, "close echo")
			if !ourServer {
				p.Conn.Close()
			}
			confCloseError(t, cp.wait(t), 1000, "")
		})

		t.Run("our close/"+role, func(t *testing.T) {
			t.Parallel()
			reason := strings.Repeat("é", 70) // 140 bytes: must be cut to fit, at a rune boundary
			closed := make(chan error, 1)
			cp := confConnect(t, ourServer, ConnOptions{CloseTimeout: confCloseTimeout}, func(ctx context.Context, c *Conn) error {
				closed <- c.Close(StatusGoingAway, reason)
				if err := c.WriteMessage(ctx, TextMessage, []byte("after")); err == nil {
					return fmt.Errorf("write after Close succeeded")
				} else if !assert.ErrorIs(t, err, ErrClosed, "write after Close") {
					return err
				}
				_, _, err := c.ReadMessage(ctx)
				return err
			})
			p := cp.peer
			payload := p.ExpectClose("our close")
			code, got, err := rawpeer.ParseClose(payload)
			require.NoError(t, err, "our close frame")
			assert.Equal(t, StatusGoingAway, StatusCode(code))
			assert.True(t, strings.HasPrefix(reason, got) && len(got) <= 123 && len(got) >= 120,
				"reason cut to %d bytes", len(got))
			// Data still in flight from the peer is dropped, not echoed.
			p.Queue(rawpeer.Frame{B0: fin | byte(rawpeer.OpText), Payload: []byte("in flight")})
			p.Queue(rawpeer.Frame{B0: byte(rawpeer.OpBinary), Payload: []byte("unfinished")})
			p.Queue(rawpeer.Frame{B0: fin | byte(rawpeer.OpClose), Payload: rawpeer.ClosePayload(1001, "")})
			p.Flush()
			if ourServer {
				p.ExpectTCPClose(confTCPCloseWait, "our server after its close handshake")
			} else {
				// The client waits for the server to close TCP first.
				p.Conn.Close()
			}
			select {
			case err := <-closed:
				assert.NoError(t, err, "Close after a complete handshake")
			case <-time.After(2 * rawpeer.Timeout):
				t.Fatal("Close did not return")
			}
			err = cp.wait(t)
			require.Error(t, err, "read after Close")
			assert.ErrorIs(t, err, ErrClosed, "read after Close")
		})
	}
}
