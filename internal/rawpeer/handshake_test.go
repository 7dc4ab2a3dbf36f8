package rawpeer

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestAcceptKeyOfRFC6455: the example of RFC 6455 section 1.3.
func TestAcceptKeyOfRFC6455(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="))
}

func TestHasToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		values []string
		want   bool
	}{
		{[]string{"Upgrade"}, true},
		{[]string{"keep-alive, UPGRADE"}, true},
		{[]string{"keep-alive", "\tupgrade "}, true},
		{[]string{"upgrades"}, false},
		{[]string{"upgrade;x"}, false},
		{[]string{"\u212aeep-alive"}, false}, // the Kelvin sign folds to k only in Unicode
		{nil, false},
	} {
		assert.Equal(t, tc.want, HasToken(tc.values, "upgrade"), "%q", tc.values)
	}
	assert.False(t, HasToken([]string{"\u212aeep-alive"}, "keep-alive"))
}

func TestHasExtension(t *testing.T) {
	t.Parallel()
	h := http.Header{"Sec-Websocket-Extensions": {"x-foo, Permessage-Deflate; client_no_context_takeover"}}
	assert.True(t, hasExtension(h, "permessage-deflate"))
	assert.False(t, hasExtension(http.Header{"Sec-Websocket-Extensions": {"permessage-deflate-2"}}, "permessage-deflate"))
	assert.False(t, hasExtension(http.Header{}, "permessage-deflate"))
}
