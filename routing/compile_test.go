package routing

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMatcherSelection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern string
		kind    string // literal, segments, regexp
		literal string // literal text, or the regexp's literal prefix
	}{
		{"/about", "literal", "/about"},
		{"^/about$", "literal", "/about"},
		{`/robots\.txt`, "literal", "/robots.txt"},
		{"/a(?:b)c", "literal", "/abc"},
		{"", "literal", ""},
		{"/robots.txt", "regexp", "/robots"},
		{"/feed/?", "regexp", "/feed"},
		{"(?i)/about", "regexp", ""},
		{"/\uFFFD", "regexp", ""}, // U+FFFD also matches invalid bytes
		{"/users/([^/]+)", "segments", "/users/"},
		{"/users/([^/]+)/posts/([0-9]+)", "segments", "/users/"},
		{"/static/(.*)", "segments", "/static/"},
		{`/n/(\d*)`, "segments", "/n/"},
		{"/u/(?P<user>[^/]+)", "segments", "/u/"},
		{"/(.+)/x", "regexp", "/"},            // "." can match "/": not forced
		{"/([a-z]+)([0-9]+)", "regexp", "/"},  // adjacent groups
		{"/([0-9]{4})", "segments", "/"},      // counted repetition
		{"/([0-9]{2,})/x", "segments", "/"},   // open-ended repetition
		{"/([a-z]?)/x", "segments", "/"},      // optional class inside the group
		{"/(a+)", "segments", "/"},            // one character
		{"/((?i)a+)", "regexp", "/"},          // case-folded character
		{"/([^/]+)?", "regexp", "/"},          // optional group
		{"/([0-9]{4})+", "regexp", "/"},       // repeated group
		{"/a|/b", "regexp", "/"},              // factored alternation
		{"/x/([a-z]+)/\\d", "regexp", "/x/"},  // class followed by non-literal
		{"/(?:a|b)/([0-9]+)", "regexp", "/"},  // alternation before the group
		{"/([^/]+)/([^/]+)", "segments", "/"}, // group, literal, group
		{"/([a-z]+)z", "regexp", "/"},         // next literal inside the class
		{"/([^é]+)é", "segments", "/"},        // multi-byte literal outside class
		{"/([^/]+)\\b", "", ""},               // empty-width assertion: regexp only, no prefix
		{"/a$|/b", "regexp", "/"},             // "$" inside an alternation
		{"/x(?s:(.*))", "segments", "/x"},     // dot matching newline
		{"/x^", "", ""},                       // "^" in the middle
		{`/([\x{10000}-\x{10FFFF}]+)`, "segments", "/"},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			t.Parallel()
			c, err := compilePattern("path", tc.pattern)
			require.NoError(t, err)
			switch {
			case c.isLiteral:
				assert.Equal(t, "literal", tc.kind)
				assert.Equal(t, tc.literal, c.literal)
			case c.segs != nil:
				assert.Equal(t, "segments", tc.kind)
				assert.Equal(t, tc.literal, c.prefix)
			default:
				if tc.kind != "" {
					assert.Equal(t, "regexp", tc.kind)
				}
				assert.Equal(t, tc.literal, c.prefix)
			}
		})
	}
}

// TestSegmentsAgreeWithRegexp runs the fast matchers and the regexp on the
// same inputs; FuzzMatch does the same with generated inputs.
func TestSegmentsAgreeWithRegexp(t *testing.T) {
	t.Parallel()
	patterns := []string{
		"/users/([^/]+)", "/users/([^/]+)/posts/([0-9]+)", "/static/(.*)", `/n/(\d*)`,
		"/([^/]+)/([^/]+)", "/([^é]+)é", "/x(?s:(.*))", `/([\x{10000}-\x{10FFFF}]+)`,
		"/([^\uFFFD/]+)/", "/(?P<a>[a-z]+)-(?P<b>[0-9]+)",
		"/([0-9]{4})/([0-9]{1,2})/([a-z-]+)", "/([a-z]?)/x", "/([é]{2})", "/([0-9]{2,})/x",
	}
	paths := []string{
		"", "/", "/users/", "/users/a", "/users/a/", "/users/a/posts/1", "/users/a/posts/",
		"/users/a/posts/1x", "/static/", "/static/a/b\nc", "/n/", "/n/12", "/n/1a", "/a/b",
		"/a/b/c", "/aaé", "/é", "/xé", "/x\n", "/\U0001F600", "/\xff", "/\xff/", "/\xef\xbf\xbd/",
		"/abc-12", "/abc-", "/-1", "/a\xffé",
		"/2024/5/a-b", "/2024/05/a-b", "/2024/123/a", "/20245/05/a", "/202/05/a", "/x", "//x", "/a/x", "/ab/x",
		"/éé", "/ééé", "/é", "/12/x", "/1/x", "/123456/x",
	}
	for _, p := range patterns {
		c, err := compilePattern("path", p)
		require.NoError(t, err)
		require.NotNil(t, c.segs, p)
		for _, path := range paths {
			checkAgainstRegexp(t, c, path)
		}
	}
}

// checkAgainstRegexp compares the compiled matcher with the bare regexp.
func checkAgainstRegexp(t testing.TB, c *compiledPattern, path string) {
	t.Helper()
	want := c.re.FindStringSubmatchIndex(path)
	switch {
	case c.isLiteral:
		if got := path == c.literal; got != (want != nil) {
			t.Fatalf("%s on %q: literal says %v, regexp %v", c.re, path, got, want)
		}
	case c.segs != nil:
		var spans [2 * maxFastGroups]int
		ok := matchSegments(c.segs, path, &spans)
		if ok != (want != nil) {
			t.Fatalf("%s on %q: segments say %v, regexp %v", c.re, path, ok, want)
		}
		if ok {
			for i := range 2 * c.ngroups {
				if spans[i] != want[i+2] {
					t.Fatalf("%s on %q: segments spans %v, regexp %v", c.re, path, spans[:2*c.ngroups], want[2:])
				}
			}
		}
	}
	if want != nil && (len(path) < len(c.prefix)+len(c.suffix) ||
		!strings.HasPrefix(path, c.prefix) || !strings.HasSuffix(path, c.suffix)) {
		t.Fatalf("%s on %q: matches but lacks the prefix %q or suffix %q", c.re, path, c.prefix, c.suffix)
	}
}

func TestLiteralSuffix(t *testing.T) {
	t.Parallel()
	for pattern, want := range map[string]string{
		"/users/([^/]+)/posts": "/posts",
		"/static/(.*)":         "",
		`/a/(x+)\.json`:        ".json",
		"/(\\d+)/\uFFFD":       "", // not comparable byte for byte
		"/feed/?":              "",
		"/about":               "", // literal rules need no suffix
		"/x|/y/z":              "",
	} {
		c, err := compilePattern("path", pattern)
		require.NoError(t, err)
		assert.Equal(t, want, c.suffix, pattern)
	}
}
