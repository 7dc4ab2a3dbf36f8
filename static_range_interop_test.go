package tornago_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/testenv"
)

// rangeHeaders are Range headers at the edges of Tornado's parsing: int64
// overflow in every position, signs, Python's int() syntax (white space,
// underscores), suffix ranges, malformed ones.
var rangeHeaders = []string{
	"bytes=0-3", "bytes=2-2", "bytes=7-", "bytes=-3", "bytes=-30", "bytes=5-100", "bytes=0-",
	"bytes=10-", "bytes=-0", "bytes=3-1", "bytes=0-0", "bytes=-", "bytes=", "bytes=0-1,4-5",
	"items=0-1", "bytes=x-1", "Bytes=0-1", "bytes =0-1", "bytes=0x1-2", "bytes=0-1-2", "bytes=3-2-",
	"bytes=5-9223372036854775807", "bytes=0-9223372036854775806", "bytes=0-9223372036854775807",
	"bytes=5-99999999999999999999999", "bytes=99999999999999999999-", "bytes=9223372036854775807-",
	"bytes=9223372036854775806-9223372036854775807", "bytes=9223372036854775807-9223372036854775807",
	"bytes=-9223372036854775807", "bytes=-9223372036854775808", "bytes=-99999999999999999999",
	"bytes=--99999999999999999999", "bytes=--9223372036854775808", "bytes=5--1", "bytes=--3",
	"bytes=0--1", "bytes=+2-3", "bytes=2-+3", "bytes= 2 - 3 ", "bytes=\t2-3", "bytes=2-3\xa0",
	"bytes=1 0-", "bytes=1_0-", "bytes=0_1-0_2", "bytes=1_-", "bytes=_1-", "bytes=1__0-",
	"bytes=-+3", "bytes=+-3", "bytes=0-+",
}

// rangeVerdict is one response to a Range request.
type rangeVerdict struct {
	Status       int    `json:"status"`
	ContentRange string `json:"content_range"`
	Body         string `json:"body"`
}

// TestStaticRangesMatchTornado asks Tornado's StaticFileHandler
// (testdata/python/tornado_ranges.py) and ours for the same file with each
// of rangeHeaders and expects the same status, Content-Range and body.
func TestStaticRangesMatchTornado(t *testing.T) {
	t.Parallel()
	py := testenv.Python(t, "tornado")
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "digits.txt"), []byte("0123456789"), 0o644))

	latin1 := make([]string, len(rangeHeaders)) // as Tornado reads header bytes
	for i, h := range rangeHeaders {
		r := make([]rune, len(h))
		for j := range len(h) {
			r[j] = rune(h[j])
		}
		latin1[i] = string(r)
	}
	in, err := json.Marshal(latin1)
	require.NoError(t, err)
	cmd := exec.Command(py, filepath.Join("testdata", "python", "tornado_ranges.py"), root, "digits.txt")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	var want []rangeVerdict
	require.NoError(t, json.Unmarshal(out, &want))
	require.Len(t, want, len(rangeHeaders))

	ta := newTestApp(t, nil, tornago.Settings{StaticPath: root})
	for i, h := range rangeHeaders {
		resp := ta.get("/static/digits.txt", "Range", h)
		// Tornado's client decodes the body as Latin-1; ours is ASCII.
		got := rangeVerdict{Status: resp.StatusCode, ContentRange: resp.Header.Get("Content-Range"), Body: resp.Body}
		assert.Equal(t, want[i], got, "Range: %q", h)
	}
}
