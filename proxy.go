package tornago

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// This file is the trusted-proxy view of a request: behind a reverse proxy
// the TCP peer is the proxy, and the client's address, scheme and Host
// arrive in headers the proxy sets. Those headers are believed only when the
// peer's address is in Settings.TrustedProxies; anyone else could forge
// them. RemoteIP, Protocol, Host, the default CheckOrigin, the absolute URLs
// the framework builds and Route.Host matching all read this view.

// parseTrustedProxies parses Settings.TrustedProxies: CIDR prefixes
// ("10.0.0.0/8", "::1/128") or single addresses ("127.0.0.1").
func parseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("%w: TrustedProxies: %w", errSettings, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w: TrustedProxies: %w", errSettings, err)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// trusted reports whether addr is one of the application's proxies.
func (a *Application) trusted(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range a.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// clientView is what the client sent to the outermost trusted proxy, or
// the request itself when the peer is not a trusted proxy.
type clientView struct {
	ip    string // the client's address, without port
	proto string // "http" or "https"
	host  string // the Host header value, host[:port]
}

// clientView computes the view of r; see the comment at the top of the file.
func (a *Application) clientView(r *http.Request) clientView {
	v := clientView{ip: peerIP(r.RemoteAddr), proto: "http", host: r.Host}
	if r.TLS != nil {
		v.proto = "https"
	}
	if len(a.proxies) == 0 {
		return v
	}
	peer, err := netip.ParseAddr(v.ip)
	if err != nil || !a.trusted(peer) {
		return v
	}
	if a.settings.UseForwardedHeader {
		a.applyForwarded(&v, r.Header.Values("Forwarded"))
	} else {
		a.applyXForwarded(&v, r.Header)
	}
	return v
}

// peerIP is the host part of a RemoteAddr, or all of it if it has no port.
func peerIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// applyXForwarded reads X-Forwarded-For, -Proto and -Host. The client is
// the rightmost X-Forwarded-For entry that is not a trusted proxy (each
// proxy appends its peer, so entries left of that one may be forged); for
// scheme and host, which proxies overwrite rather than append, the last
// value counts.
func (a *Application) applyXForwarded(v *clientView, h http.Header) {
	hops := headerList(h.Values("X-Forwarded-For"))
	for i := len(hops) - 1; i >= 0; i-- {
		ip, ok := parseNode(hops[i])
		if !ok {
			break // garbage written by a trusted hop: keep that hop's address
		}
		v.ip = ip.String()
		if !a.trusted(ip) {
			break
		}
	}
	if ps := headerList(h.Values("X-Forwarded-Proto")); len(ps) > 0 {
		setProto(v, ps[len(ps)-1])
	}
	if hs := headerList(h.Values("X-Forwarded-Host")); len(hs) > 0 {
		setHost(v, hs[len(hs)-1])
	}
}

// applyForwarded reads RFC 7239 Forwarded elements from right to left,
// stopping at the first whose for= is not a trusted proxy; that element's
// proto= and host= describe the client's request.
func (a *Application) applyForwarded(v *clientView, values []string) {
	elems := parseForwarded(values)
	if len(elems) == 0 {
		return
	}
	i := len(elems) - 1
	for ; i >= 0; i-- {
		ip, ok := parseNode(elems[i]["for"])
		if !ok {
			break // "unknown", an obfuscated name, or missing: keep the last hop
		}
		v.ip = ip.String()
		if !a.trusted(ip) {
			break
		}
	}
	e := elems[max(i, 0)]
	if p, ok := e["proto"]; ok {
		setProto(v, p)
	}
	if host, ok := e["host"]; ok {
		setHost(v, host)
	}
}

func setProto(v *clientView, p string) {
	switch p = strings.ToLower(strings.TrimSpace(p)); p {
	case "http", "https":
		v.proto = p
	}
}

func setHost(v *clientView, h string) {
	if h = strings.TrimSpace(h); validHost(h) {
		v.host = h
	}
}

// validHost accepts the characters of a host[:port]: registered names,
// IPv4 and bracketed IPv6 literals.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~:[]", c) >= 0) {
			return false
		}
	}
	return true
}

// headerList splits comma-separated header values into trimmed, non-empty
// items.
func headerList(values []string) []string {
	var out []string
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// parseNode parses an address as proxies write it: "192.0.2.1",
// "192.0.2.1:4711", "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:4711".
func parseNode(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// parseForwarded parses Forwarded header values (RFC 7239 section 4) into
// elements of lower-cased parameter names to unquoted values. A malformed
// element ends the parse: what follows it cannot be attributed.
func parseForwarded(values []string) []map[string]string {
	var elems []map[string]string
	for _, v := range values {
		e := map[string]string{}
		for i := 0; ; {
			for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
				i++
			}
			if i == len(v) {
				break
			}
			if v[i] == ',' || v[i] == ';' {
				if v[i] == ',' && len(e) > 0 {
					elems = append(elems, e)
					e = map[string]string{}
				}
				i++
				continue
			}
			eq := strings.IndexByte(v[i:], '=')
			if eq <= 0 {
				return elems
			}
			name := strings.ToLower(strings.TrimSpace(v[i : i+eq]))
			i += eq + 1
			var val string
			if i < len(v) && v[i] == '"' {
				var b strings.Builder
				i++
				for i < len(v) && v[i] != '"' {
					if v[i] == '\\' && i+1 < len(v) {
						i++
					}
					b.WriteByte(v[i])
					i++
				}
				if i == len(v) {
					return elems // unterminated quoted-string
				}
				i++
				val = b.String()
			} else {
				end := i
				for end < len(v) && v[end] != ';' && v[end] != ',' {
					end++
				}
				val = strings.TrimSpace(v[i:end])
				i = end
			}
			if _, dup := e[name]; dup {
				return elems // a parameter may appear once per element
			}
			e[name] = val
		}
		if len(e) > 0 {
			elems = append(elems, e)
		}
	}
	return elems
}

// Protocol returns the scheme the client used, "http" or "https"
// (Tornado's request.protocol): from a trusted proxy's X-Forwarded-Proto
// or Forwarded proto=, else whether this connection is TLS.
func (h *RequestHandler) Protocol() string { return h.app.clientView(h.request()).proto }

// Host returns the Host the client sent (Tornado's request.host), from a
// trusted proxy's X-Forwarded-Host or Forwarded host= when there is one,
// else the request's Host header.
func (h *RequestHandler) Host() string { return h.app.clientView(h.request()).host }
