package tornago

import (
	"encoding/binary"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// compactRequest is a WebSocket handler's request once its handshake is
// done. The connection may live for days, and most handlers never look
// at the request again after Open; the header map (a map, a slice and a
// string per field: 624 bytes for the benchmark client's five fields, more
// for a browser's dozen) and the parsed URL are what an idle connection
// would hold for nothing. So the
// header fields are kept packed in one string, the URL as the request
// target it was parsed from, and both are rebuilt the first time anyone
// asks for the request again (Request, cookies, RemoteIP, ...): a
// handler that never does pays nothing more.
//
// The rest of the request is kept as it was, as a copy: its context,
// TLS state, remote address and the path values of http.ServeMux's
// patterns.
type compactRequest struct {
	once   sync.Once
	req    http.Request // Header nil, URL nil when rebuilt from RequestURI
	header string       // the header fields, packed by packHeader
}

// compactRequestOf packs r, which stays untouched for anyone who kept it.
func compactRequestOf(r *http.Request) *compactRequest {
	c := &compactRequest{req: *r, header: packHeader(r.Header)}
	c.req.Header = nil
	if targetIsURL(r.RequestURI, r.URL) {
		c.req.URL = nil
	}
	return c
}

// request returns the request, rebuilt on the first call. Safe for
// concurrent use.
func (c *compactRequest) request() *http.Request {
	c.once.Do(func() {
		c.req.Header = unpackHeader(c.header)
		c.header = ""
		if c.req.URL == nil {
			path, query, _ := strings.Cut(c.req.RequestURI, "?")
			c.req.URL = &url.URL{Path: path, RawQuery: query}
		}
	})
	return &c.req
}

// targetIsURL reports whether u is exactly what the request target uri
// parses to when its path needs no unescaping, so that u can be rebuilt
// from uri alone. A URL that middleware rewrote (http.StripPrefix, ...),
// an escaped path and the absolute form keep their URL instead.
func targetIsURL(uri string, u *url.URL) bool {
	if u == nil || uri == "" || *u != (url.URL{Path: u.Path, RawQuery: u.RawQuery}) {
		return false
	}
	path, query, _ := strings.Cut(uri, "?")
	return path == u.Path && query == u.RawQuery
}

// packHeader packs h into one string: for every value, its field name and
// the value, each preceded by its length as a uvarint. Any byte may appear
// in either (middleware can set what it likes), so nothing is escaped.
func packHeader(h http.Header) string {
	// A handshake's fields fit in the stack buffer (a browser's take about
	// 500 bytes), so the string is the one allocation.
	var stack [1024]byte
	b := stack[:0]
	for k, vs := range h {
		for _, v := range vs {
			b = binary.AppendUvarint(b, uint64(len(k)))
			b = append(b, k...)
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	return string(b)
}

// unpackHeader rebuilds the header packHeader packed; its keys and values
// share s's memory.
func unpackHeader(s string) http.Header {
	h := http.Header{}
	for len(s) > 0 {
		var k, v string
		k, s = unpackString(s)
		v, s = unpackString(s)
		h[k] = append(h[k], v)
	}
	return h
}

// unpackString splits the length-prefixed string at the start of s from
// the rest. s was packed by packHeader, so it is well formed.
func unpackString(s string) (field, rest string) {
	var n uint64
	var shift uint
	i := 0
	for ; ; i++ {
		c := s[i]
		n |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
		shift += 7
	}
	s = s[i+1:]
	return s[:n], s[n:]
}
