package routing

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchTable is one route table written twice: as Tornado patterns for
// Router and as http.ServeMux patterns matching the same paths. 22 routes:
// literals, routes with one to three arguments, a catch-all, a named-group
// route and one that needs the regexp engine (a repeated group).
var benchTable = []struct {
	pattern, name string
	mux           []string
}{
	{"/", "root", []string{"/{$}"}},
	{"/about", "about", []string{"/about"}},
	{"/contact", "", []string{"/contact"}},
	{"/login", "", []string{"/login"}},
	{"/logout", "", []string{"/logout"}},
	{"/signup", "", []string{"/signup"}},
	{"/feed/?", "feed", []string{"/feed", "/feed/{$}"}},
	{"/static/(.*)", "static", []string{"/static/{path...}"}},
	{"/users", "", []string{"/users"}},
	{"/users/([^/]+)", "user", []string{"/users/{id}"}},
	{"/users/([^/]+)/posts", "", []string{"/users/{id}/posts"}},
	{"/users/([^/]+)/posts/([0-9]+)", "post", []string{"/users/{id}/posts/{post}"}},
	{"/posts", "", []string{"/posts"}},
	{"/posts/([0-9]+)", "", []string{"/posts/{id}"}},
	{"/posts/([0-9]+)/comments/([0-9]+)", "", []string{"/posts/{id}/comments/{c}"}},
	{"/archive/([0-9]{4})/([0-9]{2})/([a-z-]+)", "archive", []string{"/archive/{y}/{m}/{slug}"}},
	{"/u/(?P<user>[^/]+)/settings/(?P<key>[a-z]+)", "settings", []string{"/u/{user}/settings/{key}"}},
	{"/api/v1/status", "status", []string{"/api/v1/status"}},
	{"/api/v1/items", "", []string{"/api/v1/items"}},
	{"/api/v1/items/([^/]+)", "", []string{"/api/v1/items/{id}"}},
	{"/chatsocket", "", []string{"/chatsocket"}},
	{`/tags/(\w+(?:,\w+)*)`, "tags", []string{"/tags/{list}"}},
}

func benchRules() []Rule {
	rules := make([]Rule, len(benchTable))
	for i, r := range benchTable {
		rules[i] = Rule{Pattern: r.pattern, Name: r.name}
	}
	return rules
}

func benchMux() *http.ServeMux {
	mux := http.NewServeMux()
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, r := range benchTable {
		for _, p := range r.mux {
			mux.Handle(p, h)
		}
	}
	return mux
}

var benchPaths = []struct{ name, path string }{
	{"Static", "/api/v1/status"},       // a literal near the end of the table
	{"Param", "/users/alice/posts/42"}, // two arguments
	{"Param3", "/archive/2024/05/x"},   // three arguments
	{"ParamRegexp", "/tags/go,web"},    // one argument, regexp engine
	{"Miss", "/nope/nothing/here"},
}

var sinkOK bool

// BenchmarkRouter measures Router.Match on benchTable, per request kind.
// Compare with BenchmarkServeMux, which runs ServeMux.Handler (lookup and
// wildcard extraction, no handler call) on the same requests.
func BenchmarkRouter(b *testing.B) {
	r, err := New(benchRules())
	if err != nil {
		b.Fatal(err)
	}
	for _, bp := range benchPaths {
		b.Run(bp.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, bp.path, nil)
			b.ReportAllocs()
			for b.Loop() {
				_, ok, _ := r.Match(req)
				sinkOK = ok
			}
		})
	}
}

// BenchmarkServeMux is the baseline for BenchmarkRouter.
func BenchmarkServeMux(b *testing.B) {
	mux := benchMux()
	for _, bp := range benchPaths {
		b.Run(bp.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, bp.path, nil)
			b.ReportAllocs()
			for b.Loop() {
				_, p := mux.Handler(req)
				sinkOK = p != ""
			}
		})
	}
}

// TestBenchTablesAgree checks that both tables route the benchmark paths
// the same way, so the comparison is fair.
func TestBenchTablesAgree(t *testing.T) {
	t.Parallel()
	r, err := New(benchRules())
	if err != nil {
		t.Fatal(err)
	}
	mux := benchMux()
	for _, bp := range benchPaths {
		req := httptest.NewRequest(http.MethodGet, bp.path, nil)
		_, ok, err := r.Match(req)
		if err != nil {
			t.Fatal(err)
		}
		_, p := mux.Handler(req)
		if ok != (p != "") {
			t.Errorf("%s: Router ok=%v, ServeMux pattern %q", bp.path, ok, p)
		}
	}
}
