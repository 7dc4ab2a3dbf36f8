package routing

import (
	"net/http"
	"strings"
)

// tornadoDefaultHost is what Tornado's HTTPServerRequest uses as the host of
// a request that has no Host header (an HTTP/1.0 request, say).
const tornadoDefaultHost = "127.0.0.1"

// HostName returns the name that host rules are matched against for a Host
// header value hostport, computed as Tornado's request.host_name: lowercased,
// with a trailing ":digits" port removed ("Example.COM:8080" →
// "example.com", "[::1]:8888" → "[::1]"), and "127.0.0.1" when hostport is
// empty. Like Tornado it strips only a numeric port after the last colon, so
// a bare IPv6 address without brackets loses its last group; clients must
// bracket IPv6 literals in Host anyway.
func HostName(hostport string) string {
	if hostport == "" {
		return tornadoDefaultHost
	}
	h := strings.ToLower(hostport) // returns hostport itself when nothing changes
	// Tornado: re.match(r"^(.+):(\d+)$", netloc)
	i := strings.LastIndexByte(h, ':')
	if i < 1 || i == len(h)-1 {
		return h
	}
	for j := i + 1; j < len(h); j++ {
		if h[j] < '0' || h[j] > '9' {
			return h
		}
	}
	return h[:i]
}

// requestHost is the default host source: the Host header, or the URL's
// host for a request built by hand without one.
func requestHost(req *http.Request) string {
	if req.Host != "" {
		return req.Host
	}
	if req.URL != nil {
		return req.URL.Host
	}
	return ""
}
