package chatserver

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLinkify(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain <text> & 'quotes'", "plain &lt;text&gt; &amp; &#39;quotes&#39;"},
		{"see http://a.example/x.", `see <a href="http://a.example/x">http://a.example/x</a>.`},
		{"HTTPS://A.example?q=1&r=2", `<a href="HTTPS://A.example?q=1&amp;r=2">HTTPS://A.example?q=1&amp;r=2</a>`},
		{"(at www.example.com)", `(at <a href="http://www.example.com">www.example.com</a>)`},
		{"wiki http://w.example/A_(b)!", `wiki <a href="http://w.example/A_(b)">http://w.example/A_(b)</a>!`},
		{`http://x.example/"onmouseover="alert(1)`, `<a href="http://x.example/">http://x.example/</a>&#34;onmouseover=&#34;alert(1)`},
		{"javascript:alert(1) ftp://f.example", "javascript:alert(1) ftp://f.example"},
		{"http:// and www.", "http:// and www."},
		{"", ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, string(linkify(tt.in)), tt.in)
	}
}
