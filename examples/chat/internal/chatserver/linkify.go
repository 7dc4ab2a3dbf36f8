package chatserver

import (
	"html"
	"html/template"
	"regexp"
	"strings"
)

// linkCandidate finds what may be a link: http:// or https:// URLs and,
// as Tornado's linkify without require_protocol, bare "www." addresses.
// Other schemes (javascript:, data:) are never linked, as Tornado permits
// only http and https.
var linkCandidate = regexp.MustCompile(`\b(?:(?i:https?)://|(?i:www)\.)[^\s<>"'` + "`" + `]+`)

// linkify escapes text for HTML and turns its links into <a href> elements,
// as tornado.escape.linkify(text) does with its defaults: "www." addresses
// get an http:// href, and trailing punctuation (a sentence's full stop, an
// unbalanced closing parenthesis) stays outside the link.
func linkify(text string) template.HTML {
	var b strings.Builder
	last := 0
	for _, m := range linkCandidate.FindAllStringIndex(text, -1) {
		url := trimTrailing(text[m[0]:m[1]])
		if !hasHost(url) {
			continue
		}
		b.WriteString(html.EscapeString(text[last:m[0]]))
		href := url
		if !strings.Contains(url, "://") {
			href = "http://" + url
		}
		b.WriteString(`<a href="` + html.EscapeString(href) + `">` + html.EscapeString(url) + `</a>`)
		last = m[0] + len(url)
	}
	b.WriteString(html.EscapeString(text[last:]))
	return template.HTML(b.String()) //nolint:gosec // every piece of text was escaped above
}

// trimTrailing drops punctuation that ends a sentence rather than a URL.
func trimTrailing(url string) string {
	for url != "" {
		c := url[len(url)-1]
		switch {
		case strings.IndexByte(".,;:!?", c) >= 0:
		case c == ')' && strings.Count(url, "(") < strings.Count(url, ")"):
		default:
			return url
		}
		url = url[:len(url)-1]
	}
	return url
}

// hasHost reports whether a candidate has something after its scheme or
// "www." prefix.
func hasHost(url string) bool {
	if _, rest, ok := strings.Cut(url, "://"); ok {
		return rest != ""
	}
	return len(url) > len("www.")
}
