// Package routing implements Tornado's URL specs: ordered rules whose
// regular expressions are matched against the raw request path, turning
// capturing groups into handler arguments, plus reverse URLs by rule name.
//
// # Matching
//
// A rule's Pattern must match the whole path: "/users/([^/]+)" matches
// "/users/alice" but not "/users/alice/edit" (Tornado appends "$" and
// matches from the start; adding "^" and "$" yourself is harmless). The path
// is the raw one, still percent-encoded, so "/files/a%2Fb" is a single
// segment to "[^/]+", and "%2F" becomes "/" only in the group's value.
// Group values are percent-decoded the way Tornado's url_unescape(value,
// plus=False) does: "+" stays "+" (only query strings treat it as a space),
// a "%" not followed by two hex digits is kept as it is. A decoded value that
// is not valid UTF-8 makes the match fail with a 400 [*Error]. A group
// that does not participate ("/page/([0-9]+)?" against "/page/") yields "".
//
// Groups are all positional, giving [Match.Args], or all named with
// (?P<name>...) or (?<name>...), giving [Match.Kwargs]; mixing them is an
// error when the Router is built, as in Tornado. Non-capturing groups
// (?:...) give nothing.
//
// Rules are tried in order and the first match wins. A rule with a Host
// pattern applies only to requests whose host, lowercased and without its
// port (see [HostName]), the pattern matches in full. When no rule matches,
// the router says so (ok == false); serving a default handler or a 404 is the
// caller's job.
//
// # Differences from Tornado
//
// Patterns are Go regular expressions (RE2 syntax): no backreferences or
// lookaround, and "$" means end of text only (Python's "$" also matches
// before a final newline). The whole pattern is anchored, so every branch of
// "/a|/b" must match the whole path; Tornado anchors only the last branch at
// the end. Two rules may not share a name (Tornado keeps the last and logs a
// warning). [Router.ReverseURL] parses groups properly where Tornado's
// string splitting goes wrong (an escaped ")" or one inside a character
// class), and formats non-string arguments with fmt.Sprint (true, not
// Python's True). An unmatched optional group is "" rather than None. Raw
// non-ASCII bytes in a path are matched and decoded as bytes; Tornado reads
// the request line as Latin-1 and re-encodes it as UTF-8 when unescaping, so
// a raw "é" reaches the handler as "Ã©" there (clients percent-encode such
// bytes anyway).
//
// # Cost
//
// [New] compiles every pattern once; a Router is immutable and safe for
// concurrent use. Literal patterns are found with a map lookup, never a
// regexp; patterns made of literals and groups like ([^/]+), ([0-9]+) or (.*)
// are matched by a single scan; rules whose literal prefix or suffix the path
// lacks are skipped before any scan or regexp runs. Group values without "%" are
// substrings of the path, so a typical match allocates only the Args slice
// or Kwargs map. BENCH_NOTES.md compares it with [net/http.ServeMux].
package routing
