package websocket

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// CompressionOptions configures permessage-deflate (RFC 7692). The zero
// value is ready to use: fast compression of messages of 128 bytes and
// more, with context takeover and full 32 KiB windows in both directions.
//
// The same options serve both roles. A server uses them to answer the
// client's offer; a client to make its offer. Parameters name the side
// they constrain: "Server" fields govern what the server compresses,
// "Client" fields what the client compresses.
type CompressionOptions struct {
	// Level is the flate compression level, 1 (fastest) to 9 (smallest).
	// Zero means 1, which on chat-sized JSON messages compresses within a
	// few percent of level 9 at several times the speed. Levels only apply
	// to 32 KiB windows; a smaller negotiated window uses one fixed
	// compressor.
	Level int
	// Threshold is the size below which outgoing messages are sent
	// uncompressed: deflate rarely shrinks them and costs CPU on both
	// ends. Zero means DefaultCompressionThreshold (128 bytes); a negative
	// value compresses every message.
	Threshold int
	// ServerNoContextTakeover makes the server compress each message on
	// its own, forgetting earlier messages. That costs compression ratio
	// but lets the server keep no compressor state between messages: a
	// server holds none per idle connection, and a broadcast is
	// compressed once for every receiver. A server announces it in its
	// answer; a client requests it in its offer.
	ServerNoContextTakeover bool
	// ClientNoContextTakeover makes the client compress each message on
	// its own, so that the server keeps no decompression window between
	// messages. A server requires it in its answer; a client announces it
	// in its offer.
	ClientNoContextTakeover bool
	// ServerMaxWindowBits limits the LZ77 window of the server's
	// compressor to 2^bits bytes, 8 to 15; zero means 15 (32 KiB). A
	// server uses at most this; a client requests it, so that it needs
	// less memory to decompress. Some servers cannot honour the request
	// (gorilla/websocket answers without it, which fails the handshake;
	// coder/websocket declines compression), so leave it zero unless the
	// server is known to support it.
	ServerMaxWindowBits int
	// ClientMaxWindowBits limits the LZ77 window of the client's
	// compressor to 2^bits bytes, 8 to 15; zero means 15. A server never
	// asks for less than 9, since zlib-based clients (Python, most
	// browsers' peers) cannot compress with a 256-byte window. A server asks
	// for it when the client offered client_max_window_bits (browsers
	// do), which shrinks the window a context-takeover connection keeps
	// for decompression; a client uses at most this.
	ClientMaxWindowBits int
}

// DefaultCompressionThreshold is the message size, in bytes, below which
// messages are sent uncompressed unless CompressionOptions.Threshold says
// otherwise.
const DefaultCompressionThreshold = 128

// Window sizes of RFC 7692 section 7.1.2, as base-2 logarithms.
const (
	minWindowBits = 8
	maxWindowBits = 15
)

// defaultCompressionLevel is the level used when Level is zero.
const defaultCompressionLevel = 1

func (o *CompressionOptions) level() int {
	if o.Level <= 0 {
		return defaultCompressionLevel
	}
	return min(o.Level, 9)
}

// threshold returns the smallest message size to compress.
func (o *CompressionOptions) threshold() int {
	switch {
	case o.Threshold == 0:
		return DefaultCompressionThreshold
	case o.Threshold < 0:
		return 0
	}
	return o.Threshold
}

// normWindowBits normalises a configured window: 0 means 15, and anything
// else is clamped to 8..15.
func normWindowBits(bits int) int {
	if bits == 0 {
		return maxWindowBits
	}
	return min(max(bits, minWindowBits), maxWindowBits)
}

// deflateParams are the permessage-deflate parameters agreed in the
// handshake.
type deflateParams struct {
	serverNoContextTakeover bool
	clientNoContextTakeover bool
	// Effective window sizes (base-2 logarithms), 15 when unrestricted.
	serverMaxWindowBits int
	clientMaxWindowBits int
}

// directions returns, for one side of the connection, the window and
// context-takeover mode of its compressor (write) and of its peer's,
// which it decompresses (read).
func (p deflateParams) directions(server bool) (writeBits int, writeTakeover bool, readBits int, readTakeover bool) {
	if server {
		return p.serverMaxWindowBits, !p.serverNoContextTakeover, p.clientMaxWindowBits, !p.clientNoContextTakeover
	}
	return p.clientMaxWindowBits, !p.clientNoContextTakeover, p.serverMaxWindowBits, !p.serverNoContextTakeover
}

// deflateOffer is one permessage-deflate offer (or answer) as parsed from
// the header, before it is checked against what we can do.
type deflateOffer struct {
	serverNoContextTakeover bool
	clientNoContextTakeover bool
	serverMaxWindowBits     int  // 0: absent
	clientWindowBitsGiven   bool // client_max_window_bits present
	clientMaxWindowBits     int  // its value; 0: present without a value
}

const deflateExtension = "permessage-deflate"

// acceptDeflate is the server's side of the negotiation. offers are the
// values of the request's Sec-WebSocket-Extensions header lines. It
// accepts the first permessage-deflate offer it can honour and returns the
// agreed parameters and the value of the Sec-WebSocket-Extensions response
// header; ok is false when no offer is acceptable, and the connection then
// goes without compression. Offers with unknown, duplicate or invalid
// parameters are declined one by one (RFC 7692 section 5); nothing in the
// header makes the handshake fail.
func acceptDeflate(offers []string, opts *CompressionOptions) (p deflateParams, response string, ok bool) {
	_, p, response, ok = negotiateDeflate(offers, opts)
	return p, response, ok
}

// negotiateDeflate is acceptDeflate that also returns the offer it took.
func negotiateDeflate(offers []string, opts *CompressionOptions) (offer deflateOffer, p deflateParams, response string, ok bool) {
	if opts == nil {
		opts = &CompressionOptions{}
	}
	for _, line := range offers {
		for _, ext := range parseExtensions(line) {
			if ext.bad || !strings.EqualFold(ext.name, deflateExtension) {
				continue
			}
			o, err := parseDeflateParams(ext.params, true)
			if err != nil {
				continue
			}
			p, response = answerDeflate(o, opts)
			return o, p, response, true
		}
	}
	return deflateOffer{}, deflateParams{}, "", false
}

// answerDeflate decides the parameters for an acceptable offer o and
// writes the response. Every valid offer can be honoured: the compressor
// supports any window from 8 to 15 bits, and the decompressor any window.
func answerDeflate(o deflateOffer, opts *CompressionOptions) (deflateParams, string) {
	p := deflateParams{
		serverNoContextTakeover: o.serverNoContextTakeover || opts.ServerNoContextTakeover,
		clientNoContextTakeover: o.clientNoContextTakeover || opts.ClientNoContextTakeover,
		serverMaxWindowBits:     normWindowBits(opts.ServerMaxWindowBits),
		clientMaxWindowBits:     maxWindowBits,
	}
	if o.serverMaxWindowBits > 0 {
		p.serverMaxWindowBits = min(p.serverMaxWindowBits, o.serverMaxWindowBits)
	}
	if o.clientWindowBitsGiven {
		// Without the parameter in the offer the client may not support
		// a limit, and we must not send one (section 7.1.2.2).
		// zlib, which most clients compress with, cannot make a raw
		// deflate stream with a 256-byte window, so we never ask for 8.
		p.clientMaxWindowBits = max(normWindowBits(opts.ClientMaxWindowBits), 9)
		if o.clientMaxWindowBits > 0 {
			p.clientMaxWindowBits = min(p.clientMaxWindowBits, o.clientMaxWindowBits)
		}
	}
	var b strings.Builder
	b.WriteString(deflateExtension)
	if p.serverNoContextTakeover {
		b.WriteString("; server_no_context_takeover")
	}
	if p.clientNoContextTakeover {
		b.WriteString("; client_no_context_takeover")
	}
	if o.serverMaxWindowBits > 0 || p.serverMaxWindowBits < maxWindowBits {
		b.WriteString("; server_max_window_bits=")
		b.WriteString(strconv.Itoa(p.serverMaxWindowBits))
	}
	if p.clientMaxWindowBits < maxWindowBits {
		b.WriteString("; client_max_window_bits=")
		b.WriteString(strconv.Itoa(p.clientMaxWindowBits))
	}
	return p, b.String()
}

// offerDeflate returns the client's Sec-WebSocket-Extensions value. It
// always offers client_max_window_bits, since the compressor can honour
// any window the server asks for.
func offerDeflate(opts *CompressionOptions) string {
	if opts == nil {
		opts = &CompressionOptions{}
	}
	var b strings.Builder
	b.WriteString(deflateExtension)
	if opts.ServerNoContextTakeover {
		b.WriteString("; server_no_context_takeover")
	}
	if opts.ClientNoContextTakeover {
		b.WriteString("; client_no_context_takeover")
	}
	if bits := normWindowBits(opts.ServerMaxWindowBits); bits < maxWindowBits {
		b.WriteString("; server_max_window_bits=")
		b.WriteString(strconv.Itoa(bits))
	}
	b.WriteString("; client_max_window_bits")
	if bits := normWindowBits(opts.ClientMaxWindowBits); bits < maxWindowBits {
		b.WriteString("=")
		b.WriteString(strconv.Itoa(bits))
	}
	return b.String()
}

// offerFromOptions is the offer offerDeflate makes, parsed.
func offerFromOptions(opts *CompressionOptions) deflateOffer {
	o := deflateOffer{
		serverNoContextTakeover: opts.ServerNoContextTakeover,
		clientNoContextTakeover: opts.ClientNoContextTakeover,
		clientWindowBitsGiven:   true,
	}
	if bits := normWindowBits(opts.ServerMaxWindowBits); bits < maxWindowBits {
		o.serverMaxWindowBits = bits
	}
	if bits := normWindowBits(opts.ClientMaxWindowBits); bits < maxWindowBits {
		o.clientMaxWindowBits = bits
	}
	return o
}

// errDeflateAnswer is wrapped by every error acceptDeflateAnswer returns.
var errDeflateAnswer = errors.New("websocket: invalid permessage-deflate response")

// acceptDeflateAnswer is the client's side of the negotiation: it checks
// the server's Sec-WebSocket-Extensions response header lines against the
// offer offerDeflate(opts) made, and returns the agreed parameters. The
// caller calls it only when the response has that header. Any violation
// of the offer or of RFC 7692 is an error, upon which the client must fail
// the connection (section 5).
func acceptDeflateAnswer(values []string, opts *CompressionOptions) (deflateParams, error) {
	if opts == nil {
		opts = &CompressionOptions{}
	}
	return checkDeflateAnswer(values, offerFromOptions(opts))
}

// checkDeflateAnswer checks a server's response against the offer it
// answers.
func checkDeflateAnswer(values []string, offer deflateOffer) (deflateParams, error) {
	var exts []extension
	for _, v := range values {
		exts = append(exts, parseExtensions(v)...)
	}
	switch {
	case len(exts) == 0:
		return deflateParams{}, fmt.Errorf("%w: empty extension list", errDeflateAnswer)
	case len(exts) > 1:
		return deflateParams{}, fmt.Errorf("%w: %d extensions in the response, one was offered", errDeflateAnswer, len(exts))
	case exts[0].bad:
		return deflateParams{}, fmt.Errorf("%w: malformed header", errDeflateAnswer)
	case !strings.EqualFold(exts[0].name, deflateExtension):
		return deflateParams{}, fmt.Errorf("%w: extension %q was not offered", errDeflateAnswer, exts[0].name)
	}
	a, err := parseDeflateParams(exts[0].params, false)
	if err != nil {
		return deflateParams{}, fmt.Errorf("%w: %w", errDeflateAnswer, err)
	}
	p := deflateParams{
		serverNoContextTakeover: a.serverNoContextTakeover,
		clientNoContextTakeover: a.clientNoContextTakeover || offer.clientNoContextTakeover,
		serverMaxWindowBits:     maxWindowBits,
		clientMaxWindowBits:     maxWindowBits,
	}
	switch {
	case offer.serverNoContextTakeover && !a.serverNoContextTakeover:
		return deflateParams{}, fmt.Errorf("%w: server_no_context_takeover was requested but not accepted", errDeflateAnswer)
	case offer.serverMaxWindowBits > 0 && a.serverMaxWindowBits == 0:
		return deflateParams{}, fmt.Errorf("%w: server_max_window_bits was requested but not accepted", errDeflateAnswer)
	case offer.serverMaxWindowBits > 0 && a.serverMaxWindowBits > offer.serverMaxWindowBits:
		return deflateParams{}, fmt.Errorf("%w: server_max_window_bits=%d exceeds the %d requested", errDeflateAnswer, a.serverMaxWindowBits, offer.serverMaxWindowBits)
	case a.clientWindowBitsGiven && !offer.clientWindowBitsGiven:
		return deflateParams{}, fmt.Errorf("%w: client_max_window_bits was not offered", errDeflateAnswer)
	case a.clientWindowBitsGiven && a.clientMaxWindowBits == 0:
		return deflateParams{}, fmt.Errorf("%w: client_max_window_bits without a value", errDeflateAnswer)
	case a.clientWindowBitsGiven && offer.clientMaxWindowBits > 0 && a.clientMaxWindowBits > offer.clientMaxWindowBits:
		return deflateParams{}, fmt.Errorf("%w: client_max_window_bits=%d exceeds the %d offered", errDeflateAnswer, a.clientMaxWindowBits, offer.clientMaxWindowBits)
	}
	if a.serverMaxWindowBits > 0 {
		p.serverMaxWindowBits = a.serverMaxWindowBits
	}
	switch {
	case a.clientWindowBitsGiven:
		p.clientMaxWindowBits = a.clientMaxWindowBits
	case offer.clientMaxWindowBits > 0:
		// The offer promised this limit; it holds without an answer.
		p.clientMaxWindowBits = offer.clientMaxWindowBits
	}
	return p, nil
}

// parseDeflateParams reads the parameters of one permessage-deflate
// element (RFC 7692 section 7.1). An unknown or repeated parameter, a
// value where none belongs or a missing or malformed window size is an
// error. inOffer allows client_max_window_bits without a value, which
// only an offer may have.
func parseDeflateParams(params []extensionParam, inOffer bool) (deflateOffer, error) {
	var o deflateOffer
	var seen [4]bool
	for _, prm := range params {
		var i int
		switch strings.ToLower(prm.name) {
		case "server_no_context_takeover":
			i = 0
			if prm.hasValue {
				return o, errors.New("server_no_context_takeover takes no value")
			}
			o.serverNoContextTakeover = true
		case "client_no_context_takeover":
			i = 1
			if prm.hasValue {
				return o, errors.New("client_no_context_takeover takes no value")
			}
			o.clientNoContextTakeover = true
		case "server_max_window_bits":
			i = 2
			bits, ok := parseWindowBits(prm.value)
			if !prm.hasValue || !ok {
				return o, fmt.Errorf("invalid server_max_window_bits %q", prm.value)
			}
			o.serverMaxWindowBits = bits
		case "client_max_window_bits":
			i = 3
			o.clientWindowBitsGiven = true
			if prm.hasValue {
				bits, ok := parseWindowBits(prm.value)
				if !ok {
					return o, fmt.Errorf("invalid client_max_window_bits %q", prm.value)
				}
				o.clientMaxWindowBits = bits
			} else if !inOffer {
				return o, errors.New("client_max_window_bits without a value")
			}
		default:
			return o, fmt.Errorf("unknown parameter %q", prm.name)
		}
		if seen[i] {
			return o, fmt.Errorf("parameter %q repeated", prm.name)
		}
		seen[i] = true
	}
	return o, nil
}

// parseWindowBits parses a window size: a decimal 8 to 15 without leading
// zeros (RFC 7692 section 7.1.2.1).
func parseWindowBits(s string) (int, bool) {
	if len(s) == 0 || len(s) > 2 || s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n >= minWindowBits && n <= maxWindowBits
}

// extension is one element of a Sec-WebSocket-Extensions list.
type extension struct {
	name   string
	params []extensionParam
	bad    bool // malformed: the element is to be ignored (server) or rejected (client)
}

// extensionParam is one parameter of an extension; value is unquoted.
type extensionParam struct {
	name     string
	value    string
	hasValue bool
}

// parseExtensions splits one header value into extensions, following the
// grammar of RFC 6455 section 9.1 with the list rules of RFC 9110
// section 5.6.1 (empty elements and whitespace around separators are
// allowed). A malformed element is returned with bad set, and parsing
// resumes after the next comma that is not inside a quoted string.
func parseExtensions(s string) []extension {
	var out []extension
	p := extParser{s: s}
	for {
		p.skipSpaceAndCommas()
		if p.i >= len(s) {
			return out
		}
		ext, ok := p.element()
		if !ok {
			ext.bad = true
			p.resync()
		}
		out = append(out, ext)
	}
}

type extParser struct {
	s string
	i int
}

func (p *extParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *extParser) skipSpaceAndCommas() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == ',') {
		p.i++
	}
}

// element parses extension-token *( ";" extension-param ) up to the comma
// or end that follows it.
func (p *extParser) element() (extension, bool) {
	var ext extension
	ext.name = p.token()
	if ext.name == "" {
		return ext, false
	}
	for {
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] == ',' {
			return ext, true
		}
		if p.s[p.i] != ';' {
			return ext, false
		}
		p.i++
		p.skipSpace()
		var prm extensionParam
		if prm.name = p.token(); prm.name == "" {
			return ext, false
		}
		p.skipSpace()
		if p.i < len(p.s) && p.s[p.i] == '=' {
			p.i++
			p.skipSpace()
			prm.hasValue = true
			var ok bool
			if p.i < len(p.s) && p.s[p.i] == '"' {
				prm.value, ok = p.quoted()
				// RFC 7692 section 7.1: an unquoted value must be a token.
				ok = ok && isToken(prm.value)
			} else {
				prm.value = p.token()
				ok = prm.value != ""
			}
			if !ok {
				return ext, false
			}
		}
		ext.params = append(ext.params, prm)
	}
}

// token reads an RFC 9110 token, possibly empty.
func (p *extParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads a quoted-string starting at the opening quote and returns
// its content with quoted-pairs resolved.
func (p *extParser) quoted() (string, bool) {
	p.i++ // opening quote
	var b []byte
	start := p.i
	escaped := false
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			if !escaped {
				return p.s[start : p.i-1], true
			}
			return string(b), true
		case c == '\\':
			if p.i+1 >= len(p.s) || !isQuotedPairChar(p.s[p.i+1]) {
				return "", false
			}
			if !escaped {
				escaped = true
				b = append(b, p.s[start:p.i]...)
			}
			b = append(b, p.s[p.i+1])
			p.i += 2
		case c == '\t' || c == ' ' || c == 0x21 || c >= 0x23 && c != 0x7f:
			if escaped {
				b = append(b, c)
			}
			p.i++
		default:
			return "", false
		}
	}
	return "", false // unterminated
}

// resync skips to the next comma outside a quoted string.
func (p *extParser) resync() {
	inQuote := false
	for ; p.i < len(p.s); p.i++ {
		switch c := p.s[p.i]; {
		case inQuote && c == '\\':
			p.i++
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			return
		}
	}
}

// isTokenChar reports whether c is a tchar of RFC 9110 section 5.6.2.
func isTokenChar(c byte) bool {
	return c > ' ' && c < 0x7f && strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) < 0
}

// isQuotedPairChar reports whether c may follow a backslash in a
// quoted-string: HTAB, SP, VCHAR or obs-text.
func isQuotedPairChar(c byte) bool {
	return c == '\t' || c >= ' ' && c != 0x7f
}
