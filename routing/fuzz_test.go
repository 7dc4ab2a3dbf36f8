package routing

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMatch compiles a fuzzed pattern and checks the router against the bare
// anchored regexp on a fuzzed path: the literal, segments and prefix shortcuts
// must never change which paths match or the group spans, and the decoded
// arguments must be what Tornado's decoding gives. Seeds live in
// testdata/fuzz/FuzzMatch.
func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"/users/([^/]+)", "/users/alice"},
		{"/users/([^/]+)/posts/([0-9]+)", "/users/a%2Fb/posts/12"},
		{"/static/(.*)", "/static/a/b\xff"},
		{"/(?P<a>[a-z]+)-(?P<b>[0-9]*)", "/abc-"},
		{"/about", "/about"},
		{"/feed/?", "/feed/"},
		{"/([^é]+)é", "/a\xc3é"},
		{"/x(?s:(.*))", "/x\n"},
		{"/([0-9]{4})/([0-9]{1,2})/([a-z]?)", "/2024/5/"},
		{`/tags/(\w+(?:,\w+)*)`, "/tags/go,web"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		if len(pattern) > 256 || len(path) > 2048 {
			return
		}
		c, err := compilePattern("path", pattern)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("compilePattern(%q): untyped error %v", pattern, err)
			}
			return
		}
		checkAgainstRegexp(t, c, path)
		_, _ = reverseTemplate(pattern, c.ngroups) // must not panic

		checkRuleOrder(t, pattern, path)

		r, err := New([]Rule{{Pattern: pattern}})
		if err != nil {
			t.Fatalf("compilePattern accepted %q but New: %v", pattern, err)
		}
		m, ok, err := r.MatchPath("", path)
		loc := c.re.FindStringSubmatchIndex(path)
		if ok != (loc != nil) {
			t.Fatalf("%q on %q: router ok=%v, regexp %v", pattern, path, ok, loc)
		}
		if !ok {
			return
		}
		var want []string
		wantErr := false
		for g := 1; g <= c.ngroups; g++ {
			v := ""
			if loc[2*g] >= 0 {
				v = refUnquoteToBytes(path[loc[2*g]:loc[2*g+1]])
			}
			if !utf8.ValidString(v) {
				wantErr = true
				break
			}
			want = append(want, v)
		}
		if wantErr != (err != nil) {
			t.Fatalf("%q on %q: err=%v, want error %v", pattern, path, err, wantErr)
		}
		if wantErr {
			return
		}
		got := m.Args
		if c.names != nil {
			got = nil
			for _, n := range c.names {
				got = append(got, m.Kwargs[n])
			}
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
			t.Fatalf("%q on %q: args %q, want %q", pattern, path, got, want)
		}
	})
}

// FuzzUnescape checks unescape against a line-by-line port of Python's
// urllib.parse.unquote_to_bytes, and that pathEscape round-trips.
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{"", "a+b", "%", "%4", "%zz", "%%41", "%E2%82%AC", "%ff%FE", "100%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := unescape(s), refUnquoteToBytes(s); got != want {
			t.Fatalf("unescape(%q) = %q, want %q", s, got, want)
		}
		esc := pathEscape(s)
		if got := unescape(esc); got != s {
			t.Fatalf("unescape(pathEscape(%q)) = %q", s, got)
		}
		for i := 0; i < len(esc); i++ {
			if c := esc[i]; c != '%' && !pathSafe(c) {
				t.Fatalf("pathEscape(%q) = %q leaves %q", s, esc, c)
			}
		}
		v, err := decodeArg(s, "")
		if utf8.ValidString(unescape(s)) != (err == nil) || err == nil && v != unescape(s) {
			t.Fatalf("decodeArg(%q) = %q, %v", s, v, err)
		}
	})
}

// refUnquoteToBytes is CPython's unquote_to_bytes, transcribed: split on
// "%", then each piece after the first starts with two hex digits (one
// byte) or is kept with its "%".
func refUnquoteToBytes(s string) string {
	bits := strings.Split(s, "%")
	if len(bits) == 1 {
		return s
	}
	var res bytes.Buffer
	res.WriteString(bits[0])
	for _, item := range bits[1:] {
		const hexdig = "0123456789ABCDEFabcdef"
		if len(item) >= 2 && strings.IndexByte(hexdig, item[0]) >= 0 && strings.IndexByte(hexdig, item[1]) >= 0 {
			b, err := strconv.ParseUint(item[:2], 16, 8)
			if err == nil {
				res.WriteByte(byte(b))
				res.WriteString(item[2:])
				continue
			}
		}
		res.WriteByte('%')
		res.WriteString(item)
	}
	return res.String()
}

// orderTable surrounds the fuzzed pattern in checkRuleOrder: literals,
// segments, regexps and short prefixes, so every bucket and merge path runs.
var orderTable = []string{
	"/", "/users/([^/]+)", "/a", "(/[a-z])", "/users/me", "/x/(.*)", `/\d+`, "/users/([^/]+)/p/([0-9]+)",
}

// checkRuleOrder checks that a router over orderTable with pattern in the
// middle picks the same rule as trying every regexp in order would.
func checkRuleOrder(t *testing.T, pattern, path string) {
	t.Helper()
	rules := make([]Rule, 0, len(orderTable)+1)
	for i, p := range orderTable {
		if i == len(orderTable)/2 {
			rules = append(rules, Rule{Pattern: pattern, Name: "fuzzed"})
		}
		rules = append(rules, Rule{Pattern: p, Name: strconv.Itoa(i)})
	}
	r, err := New(rules)
	if err != nil {
		t.Fatalf("New with %q: %v", pattern, err)
	}
	want := ""
	for _, rule := range rules {
		c, err := compilePattern("path", rule.Pattern)
		if err != nil {
			t.Fatal(err)
		}
		if c.re.MatchString(path) {
			want = rule.Name
			break
		}
	}
	m, ok, _ := r.MatchPath("", path)
	got := ""
	if ok {
		got = m.Rule.Name
	}
	if got != want {
		t.Fatalf("pattern %q, path %q: router picked rule %q, linear scan %q", pattern, path, got, want)
	}
}
