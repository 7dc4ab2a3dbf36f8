package tornago

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"html"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// XSRF protection, Tornado's v2 scheme: the "_xsrf" cookie holds a random
// 16-byte token; pages embed it masked with a fresh random 4-byte mask each
// time (so compressed pages do not leak it, see BREACH) as
// "2|<mask hex>|<masked token hex>|<timestamp>"; unsafe requests must send
// any masking of the same token back. Version 1 tokens (plain hex) are
// accepted as Tornado accepts them.

const xsrfCookieName = "_xsrf"

// xsrfState caches the per-request token.
type xsrfState struct {
	raw     []byte // the unmasked token
	ts      int64  // its creation time (Unix seconds)
	fromReq bool   // read from the request cookie (else generated here)
	token   string // the masked form handed out by XSRFToken
}

// XSRFToken returns the XSRF token for this request in Tornado's v2 masked
// form. If the request had no valid "_xsrf" cookie it generates a token and
// sets the cookie (with Settings.XSRFCookieOptions; 30 days when a user is
// logged in), so call it on the page that holds the form — XSRFFormHTML and
// the xsrf_form_html template function do.
func (h *RequestHandler) XSRFToken() string {
	if h.xsrf != nil && h.xsrf.token != "" {
		return h.xsrf.token
	}
	h.loadXSRF()
	mask := make([]byte, 4)
	_, _ = rand.Read(mask) // crypto/rand.Read does not fail
	h.xsrf.token = "2|" + hex.EncodeToString(mask) + "|" +
		hex.EncodeToString(xorMask(mask, h.xsrf.raw)) + "|" + strconv.FormatInt(h.xsrf.ts, 10)
	if !h.xsrf.fromReq {
		opts := h.app.settings.XSRFCookieOptions
		if u, _ := h.CurrentUser(); !IsNobody(u) {
			opts = append([]CookieOption{CookieExpiresDays(30)}, opts...)
		}
		_ = h.SetCookie(xsrfCookieName, h.xsrf.token, opts...) // the token is cookie-safe
	}
	return h.xsrf.token
}

// XSRFFormHTML returns the hidden form field carrying the token,
// `<input type="hidden" name="_xsrf" value="..."/>`, for every POST form
// when Settings.XSRFCookies is on.
func (h *RequestHandler) XSRFFormHTML() template.HTML {
	return template.HTML(`<input type="hidden" name="_xsrf" value="` + html.EscapeString(h.XSRFToken()) + `"/>`) //nolint:gosec // escaped
}

// CheckXSRFCookie verifies that the request's "_xsrf" argument (or
// X-XSRFToken or X-CSRFToken header) carries the token of its "_xsrf"
// cookie; it runs before Prepare for methods other than GET, HEAD and
// OPTIONS when Settings.XSRFCookies is on. It returns Tornado's 403
// HTTPErrors: "'_xsrf' argument missing from POST", "'_xsrf' argument has
// invalid format", "XSRF cookie does not match POST argument". Override it
// in a handler (returning nil) to exempt that handler, e.g. an API
// authenticated by other means.
func (h *RequestHandler) CheckXSRFCookie() error {
	token, _ := h.GetArgument("_xsrf", Default(""))
	if token == "" {
		token = h.request().Header.Get("X-Xsrftoken")
	}
	if token == "" {
		token = h.request().Header.Get("X-Csrftoken")
	}
	if token == "" {
		return HTTPError{Code: http.StatusForbidden, Message: "'_xsrf' argument missing from POST"}
	}
	got, _, ok := decodeXSRFToken(token)
	if !ok || len(got) == 0 {
		return HTTPError{Code: http.StatusForbidden, Message: "'_xsrf' argument has invalid format"}
	}
	h.loadXSRF()
	if subtle.ConstantTimeCompare(got, h.xsrf.raw) != 1 {
		return HTTPError{Code: http.StatusForbidden, Message: "XSRF cookie does not match POST argument"}
	}
	return nil
}

// loadXSRF reads the raw token from the request cookie, or makes one.
// The state is made here, on first use: most handlers (every WebSocket
// handler once connected) never need it, and as a field it would cost
// each of them its 56 bytes.
func (h *RequestHandler) loadXSRF() {
	if h.xsrf != nil {
		return
	}
	h.xsrf = &xsrfState{}
	if c, ok := h.GetCookie(xsrfCookieName); ok && c != "" {
		if raw, ts, ok := decodeXSRFToken(c); ok && len(raw) > 0 {
			h.xsrf.raw, h.xsrf.ts, h.xsrf.fromReq = raw, ts, true
			return
		}
	}
	h.xsrf.raw = make([]byte, 16)
	_, _ = rand.Read(h.xsrf.raw)
	h.xsrf.ts = time.Now().Unix()
}

// decodeXSRFToken is Tornado's _decode_xsrf_token: a "2|mask|masked|ts"
// token or a version 1 token (hex, else the raw bytes).
func decodeXSRFToken(s string) (raw []byte, ts int64, ok bool) {
	if v, _, found := strings.Cut(s, "|"); found && isVersion(v) {
		parts := strings.Split(s, "|")
		if v != "2" || len(parts) != 4 {
			return nil, 0, false
		}
		mask, err1 := hex.DecodeString(parts[1])
		masked, err2 := hex.DecodeString(parts[2])
		ts, err3 := strconv.ParseInt(parts[3], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || len(mask) != 4 {
			return nil, 0, false
		}
		return xorMask(mask, masked), ts, true
	}
	raw, err := hex.DecodeString(s)
	if err != nil {
		raw = []byte(s)
	}
	return raw, time.Now().Unix(), true
}

// isVersion matches Tornado's ^[1-9][0-9]* version prefix.
func isVersion(s string) bool {
	if s == "" || s[0] < '1' || s[0] > '9' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// xorMask applies a WebSocket-style repeating XOR mask.
func xorMask(mask, data []byte) []byte {
	out := make([]byte, len(data))
	for i, b := range data {
		out[i] = b ^ mask[i%len(mask)]
	}
	return out
}
