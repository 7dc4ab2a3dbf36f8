package websocket_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/testenv"
	"github.com/tornago/tornago/websocket"
)

// Conformance cases for permessage-deflate after the Autobahn test suite's
// sections 12 (compressed messages of many sizes and kinds of payload,
// default parameters) and 13 (the same with each combination of RFC 7692
// parameters), run with our client against our server (so both roles) and
// against the Python `websockets` server in testdata/python. Every message
// must come back byte-exact. Messages on a connection are slices of one
// corpus, so that with context takeover later messages refer back into
// earlier ones, and a compressor or decompressor that kept the wrong
// window corrupts them.
//
// Autobahn sends up to 1000 messages per case; under -race on two cores
// that would take minutes, so each size is sent a few times only.

// dcSizes are Autobahn's message sizes for sections 12 and 13.
var dcSizes = []int{16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072}

// dcRepeats returns how many messages of size n a case sends of each kind:
// small ones several times, large ones once.
func dcRepeats(n int) int {
	switch {
	case n <= 4096:
		return 6
	case n <= 16384:
		return 2
	}
	return 1
}

// dcKind is a kind of payload, after Autobahn's section 12 corpora.
type dcKind struct {
	name   string
	typ    websocket.MessageType
	corpus []byte
}

var (
	dcOnce  sync.Once
	dcKinds []dcKind
)

// dcCorpusSize is the length of every corpus: larger than the largest
// message and than the 32 KiB window.
const dcCorpusSize = 384 << 10

// kinds returns the payload kinds, built once.
func kinds() []dcKind {
	dcOnce.Do(func() {
		dcKinds = []dcKind{
			{"json", websocket.TextMessage, dcJSONCorpus(dcCorpusSize)},
			{"bitmap", websocket.BinaryMessage, dcBitmapCorpus(dcCorpusSize)},
			{"german-text", websocket.TextMessage, dcProseCorpus(dcCorpusSize)},
			{"pdf-like", websocket.BinaryMessage, dcPDFCorpus(dcCorpusSize)},
		}
	})
	return dcKinds
}

// dcJSONCorpus is JSON records like a chat or an API's data file.
func dcJSONCorpus(n int) []byte {
	rng := rand.New(rand.NewPCG(12, 1))
	words := []string{"hello", "world", "room", "typing", "online", "tornago", "message", "status", "ok", "lunch", "héllo", "€uro", "naïve"}
	var b []byte
	for len(b) < n {
		b = fmt.Appendf(b, `{"id":%d,"type":"%s","room":"r%d","user":{"name":"u%d","score":%.3f},"text":"%s %s %s","tags":["%s","%s"]}`+"\n",
			rng.IntN(1e6), words[rng.IntN(len(words))], rng.IntN(30), rng.IntN(900), rng.Float64()*100,
			words[rng.IntN(len(words))], words[rng.IntN(len(words))], words[rng.IntN(len(words))],
			words[rng.IntN(len(words))], words[rng.IntN(len(words))])
	}
	return dcValidText(b[:n])
}

// dcBitmapCorpus is a 1-bit image: long runs of 0x00 and 0xff with
// dithered edges.
func dcBitmapCorpus(n int) []byte {
	rng := rand.New(rand.NewPCG(12, 2))
	b := make([]byte, n)
	for i := 0; i < n; {
		run := 1 + rng.IntN(200)
		v := byte(0)
		switch rng.IntN(3) {
		case 0:
			v = 0xff
		case 1:
			v = byte(rng.Uint32()) // an edge
			run = 1 + rng.IntN(4)
		}
		for j := 0; j < run && i < n; j++ {
			b[i] = v
			i++
		}
	}
	return b
}

// dcProseCorpus is German prose: text with many two-byte runes.
func dcProseCorpus(n int) []byte {
	rng := rand.New(rand.NewPCG(12, 3))
	words := strings.Fields("Habe nun ach Philosophie Juristerei und Medizin und leider auch Theologie durchaus studiert mit heißem Bemühn Da steh ich nun ich armer Tor und bin so klug als wie zuvor Heiße Magister heiße Doktor gar und ziehe schon an die zehen Jahr herauf herab und quer und krumm meine Schüler an der Nase herum Öl Übel Ärger größer fürwahr")
	var b []byte
	for len(b) < n {
		b = append(b, words[rng.IntN(len(words))]...)
		switch rng.IntN(12) {
		case 0:
			b = append(b, ".\n"...)
		case 1:
			b = append(b, ", "...)
		default:
			b = append(b, ' ')
		}
	}
	return dcValidText(b[:n])
}

// dcPDFCorpus alternates PDF-like object syntax with runs of random bytes
// (as compressed streams are): partly compressible.
func dcPDFCorpus(n int) []byte {
	rng := rand.New(rand.NewPCG(12, 4))
	var b []byte
	for obj := 1; len(b) < n; obj++ {
		k := 200 + rng.IntN(3000)
		b = fmt.Appendf(b, "%d 0 obj\n<< /Type /Page /Parent 3 0 R /Contents %d 0 R /Length %d /Filter /FlateDecode >>\nstream\n", obj, obj+1, k)
		for range k {
			b = append(b, byte(rng.Uint32()))
		}
		b = append(b, "\nendstream\nendobj\n"...)
	}
	return b[:n]
}

// dcValidText replaces a rune cut at the end of b by spaces.
func dcValidText(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.Valid(b[i:]) {
				for j := i; j < len(b); j++ {
					b[j] = ' '
				}
			}
			break
		}
	}
	return b
}

// dcMessage returns message number k of size n of a kind: a slice of its
// corpus at an offset that moves with k and n, so that messages overlap
// and repeat earlier content. Text is cut at rune boundaries and padded
// with spaces, so it is exactly n bytes of valid UTF-8.
func dcMessage(kind dcKind, n, k int) []byte {
	off := (k*7919 + n*3) % (len(kind.corpus) - n)
	if kind.typ == websocket.TextMessage {
		for off > 0 && !utf8.RuneStart(kind.corpus[off]) {
			off--
		}
	}
	return dcValidText(bytes.Clone(kind.corpus[off : off+n]))
}

// dcCase is one parameter combination: the options of our client and of
// our server, and the configuration of deflate_server.py that imposes
// what our server's options do.
type dcCase struct {
	id             string // Autobahn's case family
	name           string
	client, server websocket.CompressionOptions
	py             string
	// answer is what our server answers our client's offer.
	answer string
}

// dcCases follows Autobahn's 13.1 to 13.7 (a client's offer of
// server_no_context_takeover and server_max_window_bits 9 or 15; zlib
// cannot compress with 8), adding what the server can impose and the
// client can announce. Asking for a 15-bit window is asking for the
// default, and our client's offer leaves it out.
var dcCases = []dcCase{
	{id: "13.1", name: "defaults", py: "plain", answer: "permessage-deflate"},
	{id: "13.2", name: "offer server_no_context_takeover", client: websocket.CompressionOptions{ServerNoContextTakeover: true}, py: "plain",
		answer: "permessage-deflate; server_no_context_takeover"},
	{id: "13.3", name: "offer server_max_window_bits=9", client: websocket.CompressionOptions{ServerMaxWindowBits: 9}, py: "plain",
		answer: "permessage-deflate; server_max_window_bits=9"},
	{id: "13.4", name: "offer server_max_window_bits=15", client: websocket.CompressionOptions{ServerMaxWindowBits: 15}, py: "plain",
		answer: "permessage-deflate"},
	{id: "13.5", name: "offer server_no_context_takeover, server_max_window_bits=9",
		client: websocket.CompressionOptions{ServerNoContextTakeover: true, ServerMaxWindowBits: 9}, py: "plain",
		answer: "permessage-deflate; server_no_context_takeover; server_max_window_bits=9"},
	{id: "13.6", name: "offer server_no_context_takeover, server_max_window_bits=15",
		client: websocket.CompressionOptions{ServerNoContextTakeover: true, ServerMaxWindowBits: 15}, py: "plain",
		answer: "permessage-deflate; server_no_context_takeover"},
	{id: "13.7", name: "offer everything, windows 9, level 9",
		client: websocket.CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 9, ClientMaxWindowBits: 9, Level: 9, Threshold: -1},
		server: websocket.CompressionOptions{Level: 9, Threshold: -1}, py: "plain",
		answer: "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9"},
	{id: "13.x", name: "offer client_no_context_takeover, client_max_window_bits=9",
		client: websocket.CompressionOptions{ClientNoContextTakeover: true, ClientMaxWindowBits: 9}, py: "plain",
		answer: "permessage-deflate; client_no_context_takeover; client_max_window_bits=9"},
	{id: "13.x", name: "server imposes server_no_context_takeover, server_max_window_bits=9",
		server: websocket.CompressionOptions{ServerNoContextTakeover: true, ServerMaxWindowBits: 9}, py: "server-limits",
		answer: "permessage-deflate; server_no_context_takeover; server_max_window_bits=9"},
	{id: "13.x", name: "server imposes client_no_context_takeover, client_max_window_bits=9",
		server: websocket.CompressionOptions{ClientNoContextTakeover: true, ClientMaxWindowBits: 9}, py: "client-limits",
		answer: "permessage-deflate; client_no_context_takeover; client_max_window_bits=9"},
}

// dcEchoServer starts our echo server with opts; each connection reports
// the offer it got and whether it negotiated compression. It returns the
// ws:// URL.
func dcEchoServer(t *testing.T, ctx context.Context, opts *websocket.AcceptOptions, seen chan<- string) string {
	t.Helper()
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1) // before Accept hijacks, so before the cleanup's Wait
		defer wg.Done()
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		if seen != nil {
			seen <- fmt.Sprintf("offer=%q compressed=%v", r.Header.Get("Sec-WebSocket-Extensions"), c.Compressed())
		}
		for {
			typ, p, err := c.ReadMessage(ctx)
			if err == nil {
				err = c.WriteMessage(ctx, typ, p)
			}
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(func() {
		srv.Close()
		wg.Wait()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// dcRun sends every size of every kind in ks over c, repeats as
// dcRepeats says, and checks each echo.
func dcRun(t *testing.T, ctx context.Context, c *websocket.Conn, ks []dcKind) {
	t.Helper()
	k := 0
	for _, n := range dcSizes {
		for r := range dcRepeats(n) {
			for _, kind := range ks {
				msg := dcMessage(kind, n, k)
				k++
				what := fmt.Sprintf("%s message of %d bytes (repeat %d)", kind.name, n, r)
				require.NoError(t, c.WriteMessage(ctx, kind.typ, msg), "send %s", what)
				typ, got, err := c.ReadMessage(ctx)
				require.NoError(t, err, "echo of %s", what)
				require.Equal(t, kind.typ, typ, "type of the echo of %s", what)
				if !bytes.Equal(msg, got) {
					i := 0
					for i < len(msg) && i < len(got) && msg[i] == got[i] {
						i++
					}
					t.Fatalf("echo of %s: %d bytes back, first difference at %d", what, len(got), i)
				}
			}
		}
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
}

// TestDeflateConformanceSection12 sends every kind of payload in every
// size with default parameters, our client to our server.
func TestDeflateConformanceSection12(t *testing.T) {
	ctx := pyTestContext(t)
	seen := make(chan string, 1)
	url := dcEchoServer(t, ctx, &websocket.AcceptOptions{Compression: &websocket.CompressionOptions{}}, seen)
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{Compression: &websocket.CompressionOptions{}})
	require.NoError(t, err)
	defer c.CloseNow()
	require.True(t, c.Compressed())
	assert.Equal(t, "permessage-deflate", resp.Header.Get("Sec-WebSocket-Extensions"))
	assert.Equal(t, `offer="permessage-deflate; client_max_window_bits" compressed=true`, <-seen)
	dcRun(t, ctx, c, kinds())
}

// TestDeflateConformanceSection13 runs each parameter combination with
// JSON text and bitmap binary, our client to our server: the client's
// options make its offer, the server's are what it imposes.
func TestDeflateConformanceSection13(t *testing.T) {
	ctx := pyTestContext(t)
	ks := kinds()[:2]
	for _, tc := range dcCases {
		t.Run(tc.id+" "+tc.name, func(t *testing.T) {
			seen := make(chan string, 1)
			url := dcEchoServer(t, ctx, &websocket.AcceptOptions{Compression: &tc.server}, seen)
			c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{Compression: &tc.client})
			require.NoError(t, err)
			defer c.CloseNow()
			require.True(t, c.Compressed())
			assert.Equal(t, tc.answer, resp.Header.Get("Sec-WebSocket-Extensions"))
			assert.Contains(t, <-seen, "compressed=true")
			dcRun(t, ctx, c, ks)
		})
	}
}

// TestDeflateConformancePython runs section 12 (JSON and prose text, so
// that two-byte runes meet the inflater's read boundaries, and bitmap
// binary) and each section 13 combination with our client against the
// Python server, in the deflate_server.py configuration that imposes
// what our server would. The server's first message says what it
// negotiated, which must match what our client agreed.
func TestDeflateConformancePython(t *testing.T) {
	py := testenv.Python(t, "websockets")
	ctx := pyTestContext(t)
	srv := startPyDeflateServer(t, ctx, py)

	t.Run("12 defaults", func(t *testing.T) {
		c, info := dialPyDeflate(t, ctx, srv.url("plain"), &websocket.CompressionOptions{})
		defer c.CloseNow()
		assert.Equal(t, pyDeflateParams{RemoteMaxWindowBits: 15, LocalMaxWindowBits: 15}, *info.Extension)
		ks := kinds()
		dcRun(t, ctx, c, []dcKind{ks[0], ks[1], ks[2]})
	})
	for _, tc := range dcCases {
		t.Run(tc.id+" "+tc.name, func(t *testing.T) {
			c, info := dialPyDeflate(t, ctx, srv.url(tc.py), &tc.client)
			defer c.CloseNow()
			// What the Python server agreed must be what our server
			// would have: compare the parameters it reports with those
			// of our server's answer to the same offer.
			assert.Equal(t, dcParamsOf(tc.answer), *info.Extension, "Python answered %q", info.Answer)
			dcRun(t, ctx, c, kinds()[:2])
		})
	}
}

// dcParamsOf is the server's view of an answer: what deflate_server.py
// reports for the same agreement.
func dcParamsOf(answer string) pyDeflateParams {
	p := pyDeflateParams{RemoteMaxWindowBits: 15, LocalMaxWindowBits: 15}
	for _, part := range strings.Split(answer, ";")[1:] {
		part = strings.TrimSpace(part)
		var bits int
		switch {
		case part == "server_no_context_takeover":
			p.LocalNoContextTakeover = true
		case part == "client_no_context_takeover":
			p.RemoteNoContextTakeover = true
		case sscan(part, "server_max_window_bits=%d", &bits):
			p.LocalMaxWindowBits = bits
		case sscan(part, "client_max_window_bits=%d", &bits):
			p.RemoteMaxWindowBits = bits
		}
	}
	return p
}

func sscan(s, format string, bits *int) bool {
	_, err := fmt.Sscanf(s, format, bits)
	return err == nil
}

// pyDeflateParams is the server's permessage-deflate agreement as
// deflate_server.py reports it: "remote" is the client's direction.
type pyDeflateParams struct {
	RemoteNoContextTakeover bool `json:"remote_no_context_takeover"`
	LocalNoContextTakeover  bool `json:"local_no_context_takeover"`
	RemoteMaxWindowBits     int  `json:"remote_max_window_bits"`
	LocalMaxWindowBits      int  `json:"local_max_window_bits"`
}

// pyDeflateInfo is the first message of deflate_server.py.
type pyDeflateInfo struct {
	Extension *pyDeflateParams `json:"extension"`
	Offer     string           `json:"offer"`
	Answer    string           `json:"answer"`
}

// dialPyDeflate dials deflate_server.py with compression options opts,
// reads its first message and checks that both sides agreed on
// compression.
func dialPyDeflate(t *testing.T, ctx context.Context, url string, opts *websocket.CompressionOptions) (*websocket.Conn, pyDeflateInfo) {
	t.Helper()
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		Compression: opts,
		ConnOptions: websocket.ConnOptions{ReadLimit: -1, CloseTimeout: pyCloseTimeout},
	})
	require.NoError(t, err)
	require.True(t, c.Compressed(), "our client did not agree on compression; the server answered %q", resp.Header.Get("Sec-WebSocket-Extensions"))
	typ, first, err := c.ReadMessage(ctx)
	require.NoError(t, err)
	require.Equal(t, websocket.TextMessage, typ)
	var info pyDeflateInfo
	require.NoError(t, json.Unmarshal(first, &info), "first message %q", first)
	require.NotNil(t, info.Extension, "the Python server did not agree on compression: %q", first)
	assert.Equal(t, resp.Header.Get("Sec-WebSocket-Extensions"), info.Answer)
	return c, info
}
