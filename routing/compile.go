package routing

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// A rule's path pattern is compiled into one of three matchers, cheapest
// first:
//
//   - literal: the anchored pattern is a plain string ("/about",
//     "^/api/v1/status$"); matched by a map lookup, never by a regexp.
//   - segments: a chain of literals and capturing groups of one repeated
//     character class ("/users/([^/]+)/posts/([0-9]+)", "/static/(.*)",
//     "/([0-9]{4})") where each group is followed by the end of the path or
//     by a literal whose first character the class cannot match. Such a
//     group's extent is forced (the longest run of class characters, which
//     must then have an allowed length), so a single left to right scan
//     finds exactly the spans the regexp would, without the regexp's
//     per-match allocation. FuzzMatch checks this equivalence.
//   - regex: everything else; a literal prefix and suffix check, then the
//     regexp.
//
// Segments and regex rules are also skipped early when the path lacks their
// literal prefix or suffix.

// maxFastGroups bounds the groups a segments matcher records on the stack.
const maxFastGroups = 8

// anchor makes pattern match whole strings only. Tornado appends "$" unless
// the pattern already ends with one and relies on re.match for the start;
// wrapping the whole pattern also anchors every branch of a top-level
// alternation ("/a|/b"), which Tornado leaves open-ended. The pattern has
// been checked to parse on its own, so its parentheses balance and the
// wrapper cannot change its meaning otherwise.
func anchor(pattern string) string { return `^(?:` + pattern + `)$` }

// compiledPattern is a validated, anchored pattern and its cheapest matcher.
type compiledPattern struct {
	re      *regexp.Regexp // always set (the reference semantics)
	literal string         // valid when isLiteral
	prefix  string         // every match starts with this
	suffix  string         // and ends with this (after the prefix; "" for literals)
	names   []string       // group names, nil when groups are positional
	ngroups int
	segs    []segment // segments matcher; nil when not applicable

	isLiteral bool
}

// compilePattern validates pattern (what says "path" or "host" for
// messages) and picks its matcher.
func compilePattern(what, pattern string) (*compiledPattern, error) {
	// Parsing the bare pattern first rejects unbalanced parentheses, which
	// could otherwise escape the anchoring wrapper ("/a)|(/b").
	if _, err := syntax.Parse(pattern, syntax.Perl); err != nil {
		return nil, badPattern(what, pattern, err)
	}
	full := anchor(pattern)
	re, err := regexp.Compile(full)
	if err != nil {
		return nil, badPattern(what, pattern, err)
	}
	tree, err := syntax.Parse(full, syntax.Perl) // same flags as regexp.Compile
	if err != nil {
		return nil, badPattern(what, pattern, err)
	}
	c := &compiledPattern{re: re, ngroups: re.NumSubexp()}

	named := 0
	seen := map[string]bool{}
	for _, n := range re.SubexpNames()[1:] {
		if n == "" {
			continue
		}
		named++
		if seen[n] {
			return nil, newError(0, ErrBadPattern, "%s pattern %q uses group name %q twice", what, pattern, n)
		}
		seen[n] = true
	}
	switch named {
	case 0:
	case c.ngroups:
		c.names = re.SubexpNames()[1:]
	default:
		return nil, newError(0, ErrMixedGroups, "%s pattern %q: groups in url regexes must either be all named or all positional", what, pattern)
	}

	items, ok := anchoredItems(tree)
	if !ok {
		return c, nil // anchors in odd places: the regexp alone decides
	}
	c.prefix = literalPrefix(items)
	if literalCount(items) == len(items) {
		c.isLiteral, c.literal = true, c.prefix
		return c, nil
	}
	c.suffix = literalSuffix(items)
	if c.ngroups <= maxFastGroups {
		c.segs = buildSegments(items)
	}
	return c, nil
}

func badPattern(what, pattern string, cause error) *Error {
	return &Error{Msg: fmt.Sprintf("%s pattern %q", what, pattern), Err: fmt.Errorf("%w (%w)", ErrBadPattern, cause)}
}

// anchoredItems flattens the anchored tree into the sequence between its
// leading "^"s and trailing "$"s. ok is false when an anchor or other
// empty-width assertion sits anywhere else.
func anchoredItems(tree *syntax.Regexp) (items []*syntax.Regexp, ok bool) {
	var flat []*syntax.Regexp
	var walk func(*syntax.Regexp)
	walk = func(r *syntax.Regexp) {
		if r.Op == syntax.OpConcat {
			for _, s := range r.Sub {
				walk(s)
			}
			return
		}
		if r.Op != syntax.OpEmptyMatch {
			flat = append(flat, r)
		}
	}
	walk(tree)
	for len(flat) > 0 && flat[0].Op == syntax.OpBeginText {
		flat = flat[1:]
	}
	for len(flat) > 0 && flat[len(flat)-1].Op == syntax.OpEndText {
		flat = flat[:len(flat)-1]
	}
	for _, r := range flat {
		switch r.Op {
		case syntax.OpBeginText, syntax.OpEndText, syntax.OpBeginLine, syntax.OpEndLine,
			syntax.OpWordBoundary, syntax.OpNoWordBoundary:
			return nil, false
		}
	}
	return flat, true
}

// literalString returns the text of an OpLiteral node, or "" when the
// literal cannot be compared byte for byte with a path: case folding, or
// U+FFFD, which a regexp also matches against any invalid UTF-8 byte.
func literalString(r *syntax.Regexp) string {
	if r.Op != syntax.OpLiteral || r.Flags&syntax.FoldCase != 0 {
		return ""
	}
	for _, c := range r.Rune {
		if c == utf8.RuneError {
			return ""
		}
	}
	return string(r.Rune)
}

// literalCount is how many of items, from the start, are literals that can
// be compared byte for byte.
func literalCount(items []*syntax.Regexp) int {
	for i, r := range items {
		if literalString(r) == "" {
			return i
		}
	}
	return len(items)
}

// literalPrefix is the literal text every match of items starts with.
func literalPrefix(items []*syntax.Regexp) string {
	var b strings.Builder
	for _, r := range items[:literalCount(items)] {
		b.WriteString(literalString(r))
	}
	return b.String()
}

// literalSuffix is the literal text every match of items ends with, when
// items are not all literals.
func literalSuffix(items []*syntax.Regexp) string {
	i := len(items)
	for i > 0 && literalString(items[i-1]) != "" {
		i--
	}
	var b strings.Builder
	for _, r := range items[i:] {
		b.WriteString(literalString(r))
	}
	return b.String()
}

// segment is one step of a segments matcher: a literal, or a capturing group
// that takes the longest run of runes in class, which must be min to max
// runes long (max < 0: unbounded).
type segment struct {
	lit      string
	class    *runeSet // nil for a literal
	min, max int
}

// buildSegments returns the segments matcher for items, or nil when the
// pattern is not of the supported shape (see the comment at the top).
func buildSegments(items []*syntax.Regexp) []segment {
	var segs []segment
	for i, r := range items {
		if s := literalString(r); s != "" {
			segs = append(segs, segment{lit: s})
			continue
		}
		set, lo, hi, ok := groupClass(r)
		if !ok {
			return nil
		}
		// What follows must be the end, or a literal starting outside the class.
		if i+1 < len(items) {
			next := literalString(items[i+1])
			if next == "" {
				return nil
			}
			first, _ := utf8.DecodeRuneInString(next)
			if set.contains(first) {
				return nil
			}
		}
		segs = append(segs, segment{class: set, min: lo, max: hi})
	}
	return segs
}

// groupClass recognizes (C+), (C*), (C?) and (C{n,m}) where C is a
// character class, a dot or a single character, and returns C and the
// repetition bounds.
func groupClass(r *syntax.Regexp) (set *runeSet, lo, hi int, ok bool) {
	if r.Op != syntax.OpCapture || len(r.Sub) != 1 {
		return nil, 0, 0, false
	}
	rep := r.Sub[0]
	if len(rep.Sub) != 1 {
		return nil, 0, 0, false
	}
	switch rep.Op {
	case syntax.OpPlus:
		lo, hi = 1, -1
	case syntax.OpStar:
		lo, hi = 0, -1
	case syntax.OpQuest:
		lo, hi = 0, 1
	case syntax.OpRepeat:
		lo, hi = rep.Min, rep.Max
	default:
		return nil, 0, 0, false
	}
	var ranges []rune
	switch c := rep.Sub[0]; c.Op {
	case syntax.OpCharClass:
		ranges = c.Rune
	case syntax.OpAnyCharNotNL:
		ranges = []rune{0, '\n' - 1, '\n' + 1, utf8.MaxRune}
	case syntax.OpAnyChar:
		ranges = []rune{0, utf8.MaxRune}
	case syntax.OpLiteral: // a one-member class such as [é] parses as a literal
		if len(c.Rune) != 1 || c.Flags&syntax.FoldCase != 0 {
			return nil, 0, 0, false
		}
		ranges = []rune{c.Rune[0], c.Rune[0]}
	default:
		return nil, 0, 0, false
	}
	return newRuneSet(ranges), lo, hi, true
}

// runeSet is a character class: a bitmap for ASCII, sorted ranges above.
type runeSet struct {
	ascii  [2]uint64
	ranges []rune // lo, hi pairs for runes >= 0x80
}

func newRuneSet(pairs []rune) *runeSet {
	s := &runeSet{}
	for i := 0; i+1 < len(pairs); i += 2 {
		lo, hi := pairs[i], pairs[i+1]
		for c := lo; c <= hi && c < utf8.RuneSelf; c++ {
			s.ascii[c>>6] |= 1 << (c & 63)
		}
		if hi >= utf8.RuneSelf {
			s.ranges = append(s.ranges, max(lo, utf8.RuneSelf), hi)
		}
	}
	return s
}

func (s *runeSet) contains(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 0 && s.ascii[r>>6]&(1<<(r&63)) != 0
	}
	for i := 0; i < len(s.ranges); i += 2 {
		if r < s.ranges[i] {
			return false
		}
		if r <= s.ranges[i+1] {
			return true
		}
	}
	return false
}

// matchSegments runs a segments matcher over path, writing each group's
// [start, end) into spans. It decodes invalid UTF-8 bytes as U+FFFD, width 1,
// exactly as package regexp does, so both agree on every input.
func matchSegments(segs []segment, path string, spans *[2 * maxFastGroups]int) bool {
	pos, g := 0, 0
	for i := range segs {
		sg := &segs[i]
		if sg.class == nil {
			if !strings.HasPrefix(path[pos:], sg.lit) {
				return false
			}
			pos += len(sg.lit)
			continue
		}
		start, n := pos, 0
		for pos < len(path) {
			c := path[pos]
			if c < utf8.RuneSelf {
				if sg.class.ascii[c>>6]&(1<<(c&63)) == 0 {
					break
				}
				pos++
			} else {
				r, w := utf8.DecodeRuneInString(path[pos:])
				if !sg.class.contains(r) {
					break
				}
				pos += w
			}
			n++
		}
		if n < sg.min || sg.max >= 0 && n > sg.max {
			return false
		}
		spans[2*g], spans[2*g+1] = start, pos
		g++
	}
	return pos == len(path)
}
