package routing

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/testenv"
)

// tornadoVectors is testdata/tornado_vectors.json, written by
// testdata/gen_tornado_vectors.py from real Tornado.
type tornadoVectors struct {
	Tornado string `json:"tornado"`
	Match   []struct {
		Pattern string `json:"pattern"`
		Path    string `json:"path"`
		Want    struct {
			OK     bool              `json:"ok"`
			Args   []string          `json:"args"`
			Kwargs map[string]string `json:"kwargs"`
			Code   int               `json:"code"`
			Msg    string            `json:"msg"`
		} `json:"want"`
	} `json:"match"`
	Reverse []struct {
		Pattern string   `json:"pattern"`
		Args    []string `json:"args"`
		Want    struct {
			OK  bool   `json:"ok"`
			URL string `json:"url"`
			Err string `json:"err"`
		} `json:"want"`
	} `json:"reverse"`
	HostName []struct {
		Host string `json:"host"`
		Want string `json:"want"`
	} `json:"host_name"`
	URLEscape []struct {
		In   string `json:"in"`
		Want string `json:"want"`
	} `json:"url_escape"`
	URLUnescape []struct {
		In      string `json:"in"`
		WantHex string `json:"want_hex"`
	} `json:"url_unescape"`
}

const vectorsFile = "testdata/tornado_vectors.json"

func loadVectors(t *testing.T) *tornadoVectors {
	t.Helper()
	data, err := os.ReadFile(vectorsFile)
	require.NoError(t, err)
	var v tornadoVectors
	require.NoError(t, json.Unmarshal(data, &v))
	return &v
}

// matchDeviations are the vectors where tornago deliberately differs from
// Tornado, keyed by pattern + " " + path; the value is tornago's ok.
var matchDeviations = map[string]bool{
	// Tornado anchors only the last branch of a top-level alternation.
	"/a|/b /abc": false,
}

// reverseDeviations: pattern → tornago's result ("" = ErrNotReversible).
var reverseDeviations = map[string]string{
	`/a\)b`:            "/a)b",   // Tornado: "%sb"
	`/x/([^)]+)/y`:     "/x/v/y", // Tornado: "/x/v]+)/y"
	`/opt(/([0-9]+))?`: "",       // Tornado: TypeError while formatting
}

func TestTornadoMatchVectors(t *testing.T) {
	t.Parallel()
	for _, tc := range loadVectors(t).Match {
		t.Run(tc.Pattern+" "+tc.Path, func(t *testing.T) {
			t.Parallel()
			r, err := New([]Rule{{Pattern: tc.Pattern}})
			require.NoError(t, err)
			m, ok, err := r.MatchPath("", tc.Path)
			if dev, isDev := matchDeviations[tc.Pattern+" "+tc.Path]; isDev {
				require.NotEqual(t, tc.Want.OK, dev, "deviation no longer differs from Tornado")
				assert.Equal(t, dev, ok)
				return
			}
			require.Equal(t, tc.Want.OK, ok)
			if tc.Want.Code != 0 {
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, tc.Want.Code, e.Code)
				assert.Equal(t, tc.Want.Msg, e.Msg)
				assert.ErrorIs(t, err, ErrInvalidUTF8)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.Want.Args, m.Args)
			assert.Equal(t, tc.Want.Kwargs, m.Kwargs)
		})
	}
}

func TestTornadoReverseVectors(t *testing.T) {
	t.Parallel()
	for _, tc := range loadVectors(t).Reverse {
		t.Run(tc.Pattern, func(t *testing.T) {
			t.Parallel()
			r, err := New([]Rule{{Pattern: tc.Pattern, Name: "n"}})
			require.NoError(t, err)
			args := make([]any, len(tc.Args))
			for i, a := range tc.Args {
				args[i] = a
			}
			got, err := r.ReverseURL("n", args...)
			if dev, isDev := reverseDeviations[tc.Pattern]; isDev {
				if dev == "" {
					assert.ErrorIs(t, err, ErrNotReversible)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, dev, got)
				assert.NotEqual(t, tc.Want.URL, got, "deviation no longer differs from Tornado")
				return
			}
			switch tc.Want.Err {
			case "":
				require.NoError(t, err)
				assert.Equal(t, tc.Want.URL, got)
			case "not_reversible":
				assert.ErrorIs(t, err, ErrNotReversible)
			case "arg_count":
				assert.ErrorIs(t, err, ErrArgCount)
			default:
				t.Fatalf("unexpected Tornado outcome %q without a deviation entry", tc.Want.Err)
			}
		})
	}
}

func TestTornadoHostNameVectors(t *testing.T) {
	t.Parallel()
	for _, tc := range loadVectors(t).HostName {
		assert.Equal(t, tc.Want, HostName(tc.Host), "HostName(%q)", tc.Host)
	}
}

func TestTornadoEscapeVectors(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	for _, tc := range v.URLEscape {
		assert.Equal(t, tc.Want, pathEscape(tc.In), "pathEscape(%q)", tc.In)
	}
	for _, tc := range v.URLUnescape {
		assert.Equal(t, tc.WantHex, hex.EncodeToString([]byte(unescape(tc.In))), "unescape(%q)", tc.In)
	}
}

// TestTornadoVectorsUpToDate regenerates the vectors with the installed
// Tornado and checks they equal the committed file, so the expectations above
// cannot drift from what Tornado really does.
func TestTornadoVectorsUpToDate(t *testing.T) {
	t.Parallel()
	py := testenv.Python(t, "tornado")
	out, err := exec.Command(py, "testdata/gen_tornado_vectors.py").Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Fatalf("generator failed: %v\n%s", err, ee.Stderr)
	}
	require.NoError(t, err)
	committed, err := os.ReadFile(vectorsFile)
	require.NoError(t, err)
	var got, want map[string]any
	require.NoError(t, json.Unmarshal(out, &got))
	require.NoError(t, json.Unmarshal(committed, &want))
	for _, k := range []string{"python", "tornado"} {
		if got[k] != want[k] {
			t.Logf("%s version: installed %v, vectors from %v", k, got[k], want[k])
		}
		delete(got, k)
		delete(want, k)
	}
	assert.Equal(t, want, got, "regenerate with: cd routing && /usr/bin/python3 %s > %s",
		"testdata/gen_tornado_vectors.py", vectorsFile)
}
