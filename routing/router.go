package routing

import (
	"net/http"
	"strconv"
	"strings"
)

// Rule is one Tornado URLSpec: a path pattern, an optional host pattern and
// name, and an opaque Target the router hands back on a match.
type Rule struct {
	// Pattern is a Go (RE2) regular expression matched against the whole
	// raw, still percent-encoded, request path; "^" and "$" are implied.
	// Its capturing groups must be all positional or all named
	// ((?P<name>...) or (?<name>...)); (?:...) does not capture.
	Pattern string
	// Host, if set, is a regular expression that must match the whole
	// [HostName] of the request (lowercased, port removed). "" matches
	// any host.
	Host string
	// Name, if set, identifies the rule for [Router.ReverseURL]; names are
	// unique within a Router.
	Name string
	// Target is not looked at by the router; the Application keeps its
	// handler factory here.
	Target any
}

// Match is the result of a successful match.
type Match struct {
	// Rule is the matched rule, pointing into the Router; do not modify it.
	Rule *Rule
	// Args holds the values of positional groups, percent-decoded ("+"
	// stays "+"), in group order; an optional group that did not
	// participate is "". Nil when the pattern has no or named groups.
	Args []string
	// Kwargs holds the values of named groups, decoded as Args. Nil when
	// the pattern has no or positional groups.
	Kwargs map[string]string
}

// Option configures a Router.
type Option func(*config)

type config struct {
	hostFunc func(*http.Request) string
}

// WithHostFunc sets where [Router.Match] reads a request's host from, for
// instance a trusted proxy's X-Forwarded-Host. f returns a Host header value
// (host[:port]); it is normalized with [HostName] before host rules see it.
// The default is req.Host (then req.URL.Host), as Tornado uses the Host
// header. f is called only when some rule has a Host pattern.
func WithHostFunc(f func(req *http.Request) string) Option {
	return func(c *config) { c.hostFunc = f }
}

// compiledRule is the matching and reversing state for rules[i].
type compiledRule struct {
	path      *compiledPattern
	host      *compiledPattern // nil: any host
	revPieces []string
	revWhy    string // non-empty: not reversible, and why
}

// Router matches requests against an ordered list of rules. It is built once
// by [New], never changes afterwards, and is safe for concurrent use.
type Router struct {
	rules    []Rule
	compiled []compiledRule
	byName   map[string]int

	// Matching visits, in rule order, the rules in literals[path] merged
	// with the candidates for path's second byte (the one after the
	// leading "/"): only rules that can match path at all.
	// A rule with a prefix under 2 bytes ("(.*)", "/(\w+)") sits in every
	// bucket; such rules are few in real tables.
	literals map[string][]int
	buckets  [256][]candidate // rules whose prefix has that second byte, or is shorter
	short    []candidate      // rules whose prefix is shorter than 2 bytes
	anyHost  bool             // some rule has a Host pattern
	hostFunc func(*http.Request) string
}

// candidate is a non-literal rule in a bucket, with its literal prefix and
// suffix at hand so most rules are rejected without leaving the bucket's
// memory.
type candidate struct {
	prefix, suffix string
	idx            int
}

// New compiles rules, in order, into a Router. The first rule that matches a
// request wins, as in Tornado. It fails with an [*Error] wrapping
// [ErrBadPattern], [ErrMixedGroups] or [ErrDuplicateName], naming the rule.
func New(rules []Rule, opts ...Option) (*Router, error) {
	cfg := config{hostFunc: requestHost}
	for _, o := range opts {
		o(&cfg)
	}
	r := &Router{
		rules:    append([]Rule(nil), rules...),
		compiled: make([]compiledRule, len(rules)),
		byName:   map[string]int{},
		literals: map[string][]int{},
		hostFunc: cfg.hostFunc,
	}
	for i := range r.rules {
		rule := &r.rules[i]
		c := &r.compiled[i]
		var err error
		if c.path, err = compilePattern("path", rule.Pattern); err != nil {
			return nil, ruleError(err, i)
		}
		if rule.Host != "" {
			if c.host, err = compilePattern("host", rule.Host); err != nil {
				return nil, ruleError(err, i)
			}
			r.anyHost = true
		}
		c.revPieces, c.revWhy = reverseTemplate(rule.Pattern, c.path.ngroups)
		if rule.Name != "" {
			if j, dup := r.byName[rule.Name]; dup {
				return nil, newError(0, ErrDuplicateName, "rules %d and %d are both named %q", j, i, rule.Name)
			}
			r.byName[rule.Name] = i
		}
		if c.path.isLiteral {
			r.literals[c.path.literal] = append(r.literals[c.path.literal], i)
			continue
		}
		cd := candidate{prefix: c.path.prefix, suffix: c.path.suffix, idx: i}
		if len(cd.prefix) < 2 {
			r.short = append(r.short, cd)
			for b := range r.buckets {
				r.buckets[b] = append(r.buckets[b], cd)
			}
		} else {
			r.buckets[cd.prefix[1]] = append(r.buckets[cd.prefix[1]], cd)
		}
	}
	return r, nil
}

func ruleError(err error, i int) error {
	e := err.(*Error)
	e.Msg = "rule " + strconv.Itoa(i) + ": " + e.Msg
	return e
}

// Rules returns a copy of the rules, in matching order.
func (r *Router) Rules() []Rule { return append([]Rule(nil), r.rules...) }

// Match finds the first rule matching req's host and raw path
// (req.URL.EscapedPath()); see [Router.MatchPath].
func (r *Router) Match(req *http.Request) (m Match, ok bool, err error) {
	host := ""
	if r.anyHost {
		host = HostName(r.hostFunc(req))
	}
	return r.match(host, req.URL.EscapedPath())
}

// MatchPath finds the first rule whose host pattern matches [HostName](host)
// and whose path pattern matches the whole of escapedPath, which is matched
// still percent-encoded, as Tornado does: "/a%2Fb" is one segment to a
// pattern, and group values are decoded afterwards.
//
// ok is false when no rule matches; answering 404 (or running a default
// handler) is the caller's job. err is non-nil when a rule matched but one of
// its group values is not valid UTF-8 after decoding: err is an [*Error]
// with Code 400 wrapping [ErrInvalidUTF8], ok is true and m.Rule is the rule,
// whose handler must not run.
//
// A match of a literal pattern allocates nothing, nor does a group value
// without "%"; Args or Kwargs is the only allocation of a typical match.
func (r *Router) MatchPath(host, escapedPath string) (Match, bool, error) {
	if r.anyHost {
		host = HostName(host)
	}
	return r.match(host, escapedPath)
}

func (r *Router) match(host, path string) (Match, bool, error) {
	lits := r.literals[path]
	cands := r.short
	if len(path) >= 2 {
		cands = r.buckets[path[1]]
	}
	for len(lits) > 0 || len(cands) > 0 {
		if len(cands) == 0 || len(lits) > 0 && lits[0] < cands[0].idx {
			i := lits[0]
			lits = lits[1:]
			if h := r.compiled[i].host; h != nil && !h.matchHost(host) {
				continue
			}
			return Match{Rule: &r.rules[i]}, true, nil
		}
		cd := &cands[0]
		cands = cands[1:]
		if len(path) < len(cd.prefix)+len(cd.suffix) ||
			path[:len(cd.prefix)] != cd.prefix || path[len(path)-len(cd.suffix):] != cd.suffix {
			continue
		}
		i := cd.idx
		c := &r.compiled[i]
		if c.host != nil && !c.host.matchHost(host) {
			continue
		}
		p := c.path
		if p.segs != nil {
			var spans [2 * maxFastGroups]int
			if !matchSegments(p.segs, path, &spans) {
				continue
			}
			return r.result(i, path, spans[:2*p.ngroups])
		}
		if p.ngroups == 0 {
			if !p.re.MatchString(path) {
				continue
			}
			return Match{Rule: &r.rules[i]}, true, nil
		}
		loc := p.re.FindStringSubmatchIndex(path)
		if loc == nil {
			continue
		}
		return r.result(i, path, loc[2:])
	}
	return Match{}, false, nil
}

func (p *compiledPattern) matchHost(host string) bool {
	if p.isLiteral {
		return host == p.literal
	}
	return strings.HasPrefix(host, p.prefix) && p.re.MatchString(host)
}

// result decodes the group values at spans (start, end pairs; -1 for a group
// that did not participate) of rule i.
func (r *Router) result(i int, path string, spans []int) (Match, bool, error) {
	m := Match{Rule: &r.rules[i]}
	names := r.compiled[i].path.names
	n := len(spans) / 2
	if n == 0 {
		return m, true, nil
	}
	if names == nil {
		m.Args = make([]string, n)
	} else {
		m.Kwargs = make(map[string]string, n)
	}
	for g := range n {
		var v string
		if s, e := spans[2*g], spans[2*g+1]; s >= 0 {
			var name string
			if names != nil {
				name = names[g]
			}
			var err error
			if v, err = decodeArg(path[s:e], name); err != nil {
				return Match{Rule: m.Rule}, true, err
			}
		}
		if names == nil {
			m.Args[g] = v
		} else {
			m.Kwargs[names[g]] = v
		}
	}
	return m, true, nil
}
