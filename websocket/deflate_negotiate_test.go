package websocket

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// full is the parameter set of an offer accepted as it is with the
// default options: context takeover and 32 KiB windows both ways.
var full = deflateParams{serverMaxWindowBits: 15, clientMaxWindowBits: 15}

func TestAcceptDeflate(t *testing.T) {
	t.Parallel()
	with := func(f func(p *deflateParams)) deflateParams {
		p := full
		f(&p)
		return p
	}
	cases := []struct {
		name   string
		offers []string
		opts   *CompressionOptions
		want   deflateParams
		resp   string // "" means declined
	}{
		{"browser offer", []string{"permessage-deflate; client_max_window_bits"}, nil, full, "permessage-deflate"},
		{"bare", []string{"permessage-deflate"}, nil, full, "permessage-deflate"},
		{"no spaces", []string{"permessage-deflate;client_max_window_bits=10;server_no_context_takeover"}, nil,
			with(func(p *deflateParams) { p.clientMaxWindowBits = 10; p.serverNoContextTakeover = true }),
			"permessage-deflate; server_no_context_takeover; client_max_window_bits=10"},
		{"extra whitespace", []string{" \tpermessage-deflate \t; \tclient_max_window_bits \t= \t9 \t, "}, nil,
			with(func(p *deflateParams) { p.clientMaxWindowBits = 9 }), "permessage-deflate; client_max_window_bits=9"},
		{"case-insensitive names", []string{"PerMessage-Deflate; Server_No_Context_Takeover"}, nil,
			with(func(p *deflateParams) { p.serverNoContextTakeover = true }), "permessage-deflate; server_no_context_takeover"},
		{"server window", []string{"permessage-deflate; server_max_window_bits=10"}, nil,
			with(func(p *deflateParams) { p.serverMaxWindowBits = 10 }), "permessage-deflate; server_max_window_bits=10"},
		{"server window 15 echoed", []string{"permessage-deflate; server_max_window_bits=15"}, nil, full,
			"permessage-deflate; server_max_window_bits=15"},
		{"server window 8", []string{"permessage-deflate; server_max_window_bits=8"}, nil,
			with(func(p *deflateParams) { p.serverMaxWindowBits = 8 }), "permessage-deflate; server_max_window_bits=8"},
		{"client no context takeover echoed", []string{"permessage-deflate; client_no_context_takeover"}, nil,
			with(func(p *deflateParams) { p.clientNoContextTakeover = true }), "permessage-deflate; client_no_context_takeover"},
		{"everything", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=11"}, nil,
			deflateParams{true, true, 9, 11},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=11"},
		{"quoted value", []string{`permessage-deflate; client_max_window_bits="10"`}, nil,
			with(func(p *deflateParams) { p.clientMaxWindowBits = 10 }), "permessage-deflate; client_max_window_bits=10"},
		{"quoted pair", []string{`permessage-deflate; server_max_window_bits="1\2"`}, nil,
			with(func(p *deflateParams) { p.serverMaxWindowBits = 12 }), "permessage-deflate; server_max_window_bits=12"},
		{"unknown extension first", []string{"x-webkit-deflate-frame, permessage-deflate"}, nil, full, "permessage-deflate"},
		{"unknown extension with quoted comma", []string{`foo; bar="a, b; c", permessage-deflate; client_max_window_bits`}, nil, full, "permessage-deflate"},
		{"several header lines", []string{"foo", "", "permessage-deflate; server_no_context_takeover"}, nil,
			with(func(p *deflateParams) { p.serverNoContextTakeover = true }), "permessage-deflate; server_no_context_takeover"},
		{"first acceptable offer wins", []string{"permessage-deflate; server_max_window_bits=7, permessage-deflate; client_max_window_bits=13, permessage-deflate"}, nil,
			with(func(p *deflateParams) { p.clientMaxWindowBits = 13 }), "permessage-deflate; client_max_window_bits=13"},
		{"bad offer on an earlier line", []string{"permessage-deflate; foo", "permessage-deflate"}, nil, full, "permessage-deflate"},
		{"malformed element skipped", []string{`permessage-deflate; x="unterminated, y, permessage-deflate`}, nil, deflateParams{}, ""},
		{"malformed then good", []string{`permessage-deflate; ;, permessage-deflate`}, nil, full, "permessage-deflate"},

		// Declined offers.
		{"empty", []string{""}, nil, deflateParams{}, ""},
		{"no header", nil, nil, deflateParams{}, ""},
		{"only commas", []string{" , ,, "}, nil, deflateParams{}, ""},
		{"other extension only", []string{"x-webkit-deflate-frame"}, nil, deflateParams{}, ""},
		{"unknown parameter", []string{"permessage-deflate; foo"}, nil, deflateParams{}, ""},
		{"duplicate parameter", []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, nil, deflateParams{}, ""},
		{"duplicate window", []string{"permessage-deflate; client_max_window_bits; client_max_window_bits=10"}, nil, deflateParams{}, ""},
		{"value on a flag", []string{"permessage-deflate; client_no_context_takeover=1"}, nil, deflateParams{}, ""},
		{"server window without value", []string{"permessage-deflate; server_max_window_bits"}, nil, deflateParams{}, ""},
		{"window too small", []string{"permessage-deflate; server_max_window_bits=7"}, nil, deflateParams{}, ""},
		{"window too large", []string{"permessage-deflate; client_max_window_bits=16"}, nil, deflateParams{}, ""},
		{"leading zero", []string{"permessage-deflate; client_max_window_bits=09"}, nil, deflateParams{}, ""},
		{"sign", []string{"permessage-deflate; client_max_window_bits=+9"}, nil, deflateParams{}, ""},
		{"empty value", []string{"permessage-deflate; client_max_window_bits="}, nil, deflateParams{}, ""},
		{"empty quoted value", []string{`permessage-deflate; client_max_window_bits=""`}, nil, deflateParams{}, ""},
		{"quoted non-token", []string{`permessage-deflate; client_max_window_bits="1 0"`}, nil, deflateParams{}, ""},
		{"space in name", []string{"permessage deflate"}, nil, deflateParams{}, ""},
		{"missing parameter", []string{"permessage-deflate;"}, nil, deflateParams{}, ""},

		// The server's own options.
		{"server no context takeover added", []string{"permessage-deflate; client_max_window_bits"},
			&CompressionOptions{ServerNoContextTakeover: true},
			with(func(p *deflateParams) { p.serverNoContextTakeover = true }), "permessage-deflate; server_no_context_takeover"},
		{"client no context takeover required", []string{"permessage-deflate"},
			&CompressionOptions{ClientNoContextTakeover: true},
			with(func(p *deflateParams) { p.clientNoContextTakeover = true }), "permessage-deflate; client_no_context_takeover"},
		{"our server window", []string{"permessage-deflate"},
			&CompressionOptions{ServerMaxWindowBits: 11},
			with(func(p *deflateParams) { p.serverMaxWindowBits = 11 }), "permessage-deflate; server_max_window_bits=11"},
		{"smaller of the server windows (offer)", []string{"permessage-deflate; server_max_window_bits=9"},
			&CompressionOptions{ServerMaxWindowBits: 11},
			with(func(p *deflateParams) { p.serverMaxWindowBits = 9 }), "permessage-deflate; server_max_window_bits=9"},
		{"smaller of the server windows (ours)", []string{"permessage-deflate; server_max_window_bits=13"},
			&CompressionOptions{ServerMaxWindowBits: 11},
			with(func(p *deflateParams) { p.serverMaxWindowBits = 11 }), "permessage-deflate; server_max_window_bits=11"},
		{"our client window", []string{"permessage-deflate; client_max_window_bits"},
			&CompressionOptions{ClientMaxWindowBits: 10},
			with(func(p *deflateParams) { p.clientMaxWindowBits = 10 }), "permessage-deflate; client_max_window_bits=10"},
		{"smaller of the client windows", []string{"permessage-deflate; client_max_window_bits=12"},
			&CompressionOptions{ClientMaxWindowBits: 13},
			with(func(p *deflateParams) { p.clientMaxWindowBits = 12 }), "permessage-deflate; client_max_window_bits=12"},
		{"client window not offered", []string{"permessage-deflate"},
			&CompressionOptions{ClientMaxWindowBits: 10}, full, "permessage-deflate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, resp, ok := acceptDeflate(tc.offers, tc.opts)
			assert.Equal(t, tc.resp != "", ok)
			assert.Equal(t, tc.resp, resp)
			assert.Equal(t, tc.want, p)
		})
	}
}

func TestOfferDeflate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		opts *CompressionOptions
		want string
	}{
		{nil, "permessage-deflate; client_max_window_bits"},
		{&CompressionOptions{ServerNoContextTakeover: true, ClientNoContextTakeover: true},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits"},
		{&CompressionOptions{ServerMaxWindowBits: 10, ClientMaxWindowBits: 12},
			"permessage-deflate; server_max_window_bits=10; client_max_window_bits=12"},
		{&CompressionOptions{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, "permessage-deflate; client_max_window_bits"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, offerDeflate(tc.opts))
	}
}

func TestAcceptDeflateAnswer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		answer  []string
		opts    *CompressionOptions
		want    deflateParams
		wantErr string
	}{
		{"bare", []string{"permessage-deflate"}, nil, full, ""},
		{"flags", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, nil,
			deflateParams{true, true, 15, 15}, ""},
		{"client window", []string{"permessage-deflate; client_max_window_bits=10"}, nil,
			deflateParams{false, false, 15, 10}, ""},
		{"server window not requested", []string{"permessage-deflate; server_max_window_bits=10"}, nil,
			deflateParams{false, false, 10, 15}, ""},
		{"quoted", []string{`permessage-deflate; server_max_window_bits="10"`}, nil, deflateParams{false, false, 10, 15}, ""},
		{"server adds no context takeover", []string{"permessage-deflate; server_no_context_takeover"}, nil,
			deflateParams{true, false, 15, 15}, ""},
		{"requested server window honoured", []string{"permessage-deflate; server_max_window_bits=9"},
			&CompressionOptions{ServerMaxWindowBits: 10}, deflateParams{false, false, 9, 15}, ""},
		{"our client window holds without an answer", []string{"permessage-deflate"},
			&CompressionOptions{ClientMaxWindowBits: 10}, deflateParams{false, false, 15, 10}, ""},
		{"our client no context takeover holds", []string{"permessage-deflate"},
			&CompressionOptions{ClientNoContextTakeover: true}, deflateParams{false, true, 15, 15}, ""},

		{"empty", []string{""}, nil, deflateParams{}, "empty extension list"},
		{"no values", nil, nil, deflateParams{}, "empty extension list"},
		{"other extension", []string{"x-webkit-deflate-frame"}, nil, deflateParams{}, "not offered"},
		{"two extensions", []string{"permessage-deflate, permessage-deflate"}, nil, deflateParams{}, "2 extensions"},
		{"two lines", []string{"permessage-deflate", "permessage-deflate"}, nil, deflateParams{}, "2 extensions"},
		{"malformed", []string{"permessage-deflate; ="}, nil, deflateParams{}, "malformed"},
		{"unknown parameter", []string{"permessage-deflate; foo=1"}, nil, deflateParams{}, "unknown parameter"},
		{"duplicate", []string{"permessage-deflate; client_no_context_takeover; client_no_context_takeover"}, nil, deflateParams{}, "repeated"},
		{"valueless client window", []string{"permessage-deflate; client_max_window_bits"}, nil, deflateParams{}, "without a value"},
		{"client window out of range", []string{"permessage-deflate; client_max_window_bits=16"}, nil, deflateParams{}, "invalid client_max_window_bits"},
		{"server window out of range", []string{"permessage-deflate; server_max_window_bits=7"}, nil, deflateParams{}, "invalid server_max_window_bits"},
		{"valueless server window", []string{"permessage-deflate; server_max_window_bits"}, nil, deflateParams{}, "invalid server_max_window_bits"},
		{"value on a flag", []string{"permessage-deflate; server_no_context_takeover=true"}, nil, deflateParams{}, "takes no value"},
		{"server no context takeover refused", []string{"permessage-deflate"},
			&CompressionOptions{ServerNoContextTakeover: true}, deflateParams{}, "server_no_context_takeover was requested"},
		{"server window ignored", []string{"permessage-deflate"},
			&CompressionOptions{ServerMaxWindowBits: 10}, deflateParams{}, "server_max_window_bits was requested"},
		{"server window too large", []string{"permessage-deflate; server_max_window_bits=11"},
			&CompressionOptions{ServerMaxWindowBits: 10}, deflateParams{}, "exceeds the 10 requested"},
		{"client window above our offer", []string{"permessage-deflate; client_max_window_bits=11"},
			&CompressionOptions{ClientMaxWindowBits: 10}, deflateParams{}, "exceeds the 10 offered"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := acceptDeflateAnswer(tc.answer, tc.opts)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, errDeflateAnswer)
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, p)
		})
	}
	t.Run("client window not offered", func(t *testing.T) {
		_, err := checkDeflateAnswer([]string{"permessage-deflate; client_max_window_bits=10"}, deflateOffer{})
		require.ErrorContains(t, err, "client_max_window_bits was not offered")
	})
}

// TestDeflateNegotiationHTTP runs the negotiation through real HTTP over
// TCP: the client sends its offer (on several header lines for some
// cases), the server answers with acceptDeflate, and the client checks
// the answer; both sides must agree on every parameter.
func TestDeflateNegotiationHTTP(t *testing.T) {
	t.Parallel()
	var optionSets []*CompressionOptions
	for _, bits := range [][2]int{{0, 0}, {10, 0}, {0, 9}, {12, 8}} {
		for flags := range 4 {
			optionSets = append(optionSets, &CompressionOptions{
				ServerNoContextTakeover: flags&1 != 0,
				ClientNoContextTakeover: flags&2 != 0,
				ServerMaxWindowBits:     bits[0],
				ClientMaxWindowBits:     bits[1],
			})
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var server CompressionOptions
		fmt.Sscanf(r.URL.Query().Get("opts"), "%t,%t,%d,%d", &server.ServerNoContextTakeover,
			&server.ClientNoContextTakeover, &server.ServerMaxWindowBits, &server.ClientMaxWindowBits)
		p, resp, ok := acceptDeflate(r.Header.Values("Sec-WebSocket-Extensions"), &server)
		if !ok {
			w.WriteHeader(http.StatusNotAcceptable)
			return
		}
		w.Header().Set("Sec-WebSocket-Extensions", resp)
		fmt.Fprintf(w, "%+v", p)
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()

	for i, copts := range optionSets {
		for j, sopts := range optionSets {
			req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/?opts=%t,%t,%d,%d", srv.URL,
				sopts.ServerNoContextTakeover, sopts.ClientNoContextTakeover, sopts.ServerMaxWindowBits, sopts.ClientMaxWindowBits), nil)
			require.NoError(t, err)
			// Unknown extensions before ours, sometimes on lines of their own.
			if (i+j)%2 == 0 {
				req.Header.Add("Sec-WebSocket-Extensions", `x-foo; a="1, 2"`)
				req.Header.Add("Sec-WebSocket-Extensions", offerDeflate(copts))
			} else {
				req.Header.Add("Sec-WebSocket-Extensions", "x-bar, "+offerDeflate(copts)+", permessage-deflate")
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode, "client %+v server %+v", copts, sopts)
			p, err := acceptDeflateAnswer(resp.Header.Values("Sec-WebSocket-Extensions"), copts)
			require.NoError(t, err, "client %+v server %+v answer %q", copts, sopts, resp.Header.Get("Sec-WebSocket-Extensions"))
			require.Equal(t, string(body), fmt.Sprintf("%+v", p), "client %+v server %+v", copts, sopts)
			// What each side asked for holds.
			assert.True(t, !copts.ServerNoContextTakeover && !sopts.ServerNoContextTakeover || p.serverNoContextTakeover)
			assert.True(t, !copts.ClientNoContextTakeover && !sopts.ClientNoContextTakeover || p.clientNoContextTakeover)
			assert.LessOrEqual(t, p.serverMaxWindowBits, normWindowBits(copts.ServerMaxWindowBits))
			assert.LessOrEqual(t, p.serverMaxWindowBits, normWindowBits(sopts.ServerMaxWindowBits))
			assert.LessOrEqual(t, p.clientMaxWindowBits, normWindowBits(copts.ClientMaxWindowBits))
			// A server never asks a client for less than 9 bits (zlib cannot).
			assert.LessOrEqual(t, p.clientMaxWindowBits, max(normWindowBits(sopts.ClientMaxWindowBits), 9))
		}
	}
}

func TestDeflateParamsDirections(t *testing.T) {
	t.Parallel()
	p := deflateParams{serverNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12}
	wb, wt, rb, rt := p.directions(true)
	assert.Equal(t, []any{10, false, 12, true}, []any{wb, wt, rb, rt})
	wb, wt, rb, rt = p.directions(false)
	assert.Equal(t, []any{12, true, 10, false}, []any{wb, wt, rb, rt})
}

// fuzzCompressionOptions derives options from a byte.
func fuzzCompressionOptions(b byte) *CompressionOptions {
	o := &CompressionOptions{ServerNoContextTakeover: b&1 != 0, ClientNoContextTakeover: b&2 != 0}
	if b&4 != 0 {
		o.ServerMaxWindowBits = 8 + int(b>>3&7)
	}
	if b&64 != 0 {
		o.ClientMaxWindowBits = 8 + int(b>>3&7) ^ 1
	}
	return o
}

// FuzzDeflateOffer: acceptDeflate never panics, agrees on parameters in
// range, and its response is a valid answer to the offer it accepted; the
// client's parser never panics either; and our own offer is always
// accepted, with both sides agreeing.
func FuzzDeflateOffer(f *testing.F) {
	for _, s := range []string{
		"permessage-deflate; client_max_window_bits",
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=11",
		`foo; bar="a, b", permessage-deflate; client_max_window_bits="10"`,
		"permessage-deflate; server_max_window_bits=7, permessage-deflate",
		`permessage-deflate; x="\"`,
		"x-webkit-deflate-frame",
	} {
		f.Add(s, "", byte(0), byte(0))
	}
	f.Add("foo", "permessage-deflate;server_max_window_bits=12", byte(0x5d), byte(0x42))
	f.Fuzz(func(t *testing.T, line1, line2 string, serverBits, clientBits byte) {
		sopts := fuzzCompressionOptions(serverBits)
		offer, p, resp, ok := negotiateDeflate([]string{line1, line2}, sopts)
		if ok {
			if p.serverMaxWindowBits < 8 || p.serverMaxWindowBits > 15 || p.clientMaxWindowBits < 8 || p.clientMaxWindowBits > 15 {
				t.Fatalf("window out of range: %+v", p)
			}
			got, err := checkDeflateAnswer([]string{resp}, offer)
			if err != nil {
				t.Fatalf("response %q to offer %q %q is invalid: %v", resp, line1, line2, err)
			}
			if got != p {
				t.Fatalf("response %q parses as %+v, server agreed %+v", resp, got, p)
			}
		}
		copts := fuzzCompressionOptions(clientBits)
		acceptDeflateAnswer([]string{line1, line2}, copts)
		acceptDeflateAnswer([]string{line1}, copts)

		sp, sresp, ok := acceptDeflate([]string{line1, offerDeflate(copts)}, sopts)
		if !ok {
			t.Fatalf("offer %q refused", offerDeflate(copts))
		}
		if strings.EqualFold(line1, "") || !strings.Contains(strings.ToLower(line1), deflateExtension) {
			cp, err := acceptDeflateAnswer([]string{sresp}, copts)
			if err != nil {
				t.Fatalf("our offer %q answered %q: %v", offerDeflate(copts), sresp, err)
			}
			if cp != sp {
				t.Fatalf("client agreed %+v, server %+v", cp, sp)
			}
		}
	})
}
