package routing

import (
	"fmt"
	"strconv"
	"strings"
)

// reverseTemplate splits pattern into the literal text around its groups,
// the way Tornado's PathMatches._find_groups does, so that pieces[0] + arg1 +
// pieces[1] + ... + argN + pieces[N] rebuilds a path. why is non-empty
// (and pieces nil) when the pattern cannot be reversed.
//
// Tornado's rules, kept: one leading "^" and one trailing "$" are dropped;
// the pattern is reversible only if every "(" in it opens a capturing group
// (so no (?:...), no flags group, no escaped or bracketed "(", no nesting);
// outside the groups, "\x" becomes x but an escaped letter or digit (\d,
// \w, \b...) makes the pattern irreversible; every other character is copied
// as it is, regexp meaning or not ("/feed/?" reverses to "/feed/?",
// "/robots.txt" to "/robots.txt").
//
// Tornado's parse is fixed where it is wrong: a group ends at its own closing
// parenthesis, not at the first ")" (which may be escaped or inside a
// character class, as in "([^)]+)"), an escaped ")" outside groups stays a
// ")", and an escaped final "$" is a literal dollar.
func reverseTemplate(pattern string, ngroups int) (pieces []string, why string) {
	p := strings.TrimPrefix(pattern, "^")
	if strings.HasSuffix(p, "$") && !escapedAt(p, len(p)-1) {
		p = p[:len(p)-1]
	}
	if n := strings.Count(p, "("); n != ngroups {
		return nil, fmt.Sprintf("it has %d \"(\" for %d capturing groups (non-capturing, nested, flag or escaped parentheses)", n, ngroups)
	}
	pieces = make([]string, 0, ngroups+1)
	var cur strings.Builder
	for i := 0; i < len(p); {
		switch c := p[i]; c {
		case '\\':
			if i+1 == len(p) {
				return nil, "it ends with a backslash"
			}
			e := p[i+1]
			if isAlnum(e) {
				return nil, fmt.Sprintf(`it has the escape \%c outside a group`, e)
			}
			cur.WriteByte(e)
			i += 2
		case '(':
			end := groupEnd(p, i+1)
			if end < 0 {
				return nil, "it has nested groups"
			}
			pieces = append(pieces, cur.String())
			cur.Reset()
			i = end + 1
		default:
			cur.WriteByte(c)
			i++
		}
	}
	pieces = append(pieces, cur.String())
	if len(pieces) != ngroups+1 { // cannot happen after the count check; be safe
		return nil, "its groups could not be located"
	}
	return pieces, ""
}

// escapedAt reports whether p[i] is preceded by an odd number of backslashes.
func escapedAt(p string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && p[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// groupEnd returns the index of the ")" closing a group whose body starts at
// p[i], skipping escapes and character classes, or -1.
func groupEnd(p string, i int) int {
	inClass, classStart := false, 0
	for ; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			i++
		case inClass:
			if c == '[' && strings.HasPrefix(p[i:], "[:") {
				if j := strings.Index(p[i+2:], ":]"); j >= 0 {
					i += j + 3
				}
				continue
			}
			// "]" right after "[" or "[^" is a literal member.
			if c == ']' && i > classStart {
				inClass = false
			}
		case c == '[':
			inClass, classStart = true, i+1
			if i+1 < len(p) && p[i+1] == '^' {
				classStart++
			}
		case c == ')':
			return i
		case c == '(':
			return -1 // nested group
		}
	}
	return -1
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// argString converts a ReverseURL argument to text: strings and byte slices
// as they are, everything else with fmt.Sprint (Tornado uses str(), so a
// bool is "true" here but "True" there).
func argString(a any) string {
	switch v := a.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	default:
		return fmt.Sprint(v)
	}
}

// ReverseURL builds the path of the rule called name, as Tornado's
// reverse_url: each argument, in group order (named groups too), is
// converted to text (see below), UTF-8 encoded and escaped as Tornado's
// url_escape(arg, plus=False) does, which keeps only ASCII letters, digits,
// "_.-~" and "/" ("a b/c+d" → "a%20b/c%2Bd"), and put in place of its group.
//
// Only simple patterns reverse: literal text around non-nested capturing
// groups. Other characters outside groups are copied as Tornado copies them,
// so "/feed/?" gives "/feed/?"; write the pattern with escapes
// ("/robots\.txt") to make the intent plain. Errors: [ErrUnknownName],
// [ErrNotReversible] (non-capturing or nested groups, \d outside a group,
// ...), [ErrArgCount].
//
// Arguments that are neither string nor []byte are formatted with
// fmt.Sprint.
func (r *Router) ReverseURL(name string, args ...any) (string, error) {
	i, ok := r.byName[name]
	if !ok {
		return "", newError(0, ErrUnknownName, "%s not found in named urls", name)
	}
	c := &r.compiled[i]
	if c.revWhy != "" {
		return "", newError(0, ErrNotReversible, "cannot reverse url regex %q of %q: %s", r.rules[i].Pattern, name, c.revWhy)
	}
	if len(args) != c.path.ngroups {
		return "", newError(0, ErrArgCount, "%q needs %d arguments, got %d", name, c.path.ngroups, len(args))
	}
	if len(args) == 0 {
		return c.revPieces[0], nil
	}
	var b strings.Builder
	b.WriteString(c.revPieces[0])
	for k, a := range args {
		b.WriteString(pathEscape(argString(a)))
		b.WriteString(c.revPieces[k+1])
	}
	return b.String(), nil
}
