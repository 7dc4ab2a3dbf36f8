package cookies_test

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/cookies"
)

// signatureVariants are values signed by tornago with the signature then
// altered in ways a comparison looser than Tornado's hmac.compare_digest
// (byte for byte, case included) would let through: upper-cased, one digit
// upper-cased, padded and truncated. Each is paired with the error tornago
// must give it; Tornado rejects them all (TestTornadoRejectsSignatureVariants).
func signatureVariants(t *testing.T) []struct {
	name, signed string
	want         error
} {
	t.Helper()
	var out []struct {
		name, signed string
		want         error
	}
	for _, version := range []int{1, 2} {
		c, err := cookies.NewTornadoCodec(cookies.SingleKey("secret"),
			cookies.WithVersion(version), cookies.WithClock(fixedClock(vectorClock)))
		require.NoError(t, err)
		good, err := c.Encode("name", []byte("value"))
		require.NoError(t, err)
		i := strings.LastIndexByte(good, '|') + 1
		body, sig := good[:i], good[i:]
		require.NotEqual(t, strings.ToUpper(sig), sig, "the signature needs a hex letter to upper-case")
		letter := strings.IndexAny(sig, "abcdef")
		add := func(name, signed string, want error) {
			out = append(out, struct {
				name, signed string
				want         error
			}{"v" + string(rune('0'+version)) + " " + name, signed, want})
		}
		add("valid", good, nil)
		add("upper-case signature", body+strings.ToUpper(sig), cookies.ErrInvalidSignature)
		add("one letter upper-cased", body+sig[:letter]+strings.ToUpper(sig[letter:letter+1])+sig[letter+1:], cookies.ErrInvalidSignature)
		add("signature padded with 0", good+"0", cookies.ErrMalformed)
		add("signature padded with a space", good+" ", cookies.ErrMalformed)
		add("signature truncated", good[:len(good)-1], cookies.ErrMalformed)
		add("signature truncated and padded", good[:len(good)-1]+"0", cookies.ErrInvalidSignature)
	}
	return out
}

// TestTornadoSignatureComparedExactly: a signature matches only byte for
// byte, as with Tornado's hmac.compare_digest; a case-insensitive or
// prefix comparison fails here.
func TestTornadoSignatureComparedExactly(t *testing.T) {
	t.Parallel()
	c, err := cookies.NewTornadoCodec(cookies.SingleKey("secret"), cookies.WithClock(fixedClock(vectorClock)))
	require.NoError(t, err)
	for _, v := range signatureVariants(t) {
		t.Run(v.name, func(t *testing.T) {
			got, err := c.Decode("name", v.signed, 0)
			if v.want == nil {
				require.NoError(t, err)
				assert.Equal(t, []byte("value"), got)
				return
			}
			require.ErrorIs(t, err, v.want, "%q", v.signed)
			assert.Nil(t, got)
		})
	}
}

// TestTornadoRejectsSignatureVariants has real Tornado judge the values of
// TestTornadoSignatureComparedExactly: it accepts the valid ones and
// rejects every altered signature, so tornago's verdicts are Tornado's.
func TestTornadoRejectsSignatureVariants(t *testing.T) {
	t.Parallel()
	py := tornadoPython(t)
	variants := signatureVariants(t)
	type item struct {
		Secret tornadoSecret `json:"secret"`
		Name   string        `json:"name"`
		Signed string        `json:"signed"`
		Clock  int64         `json:"clock"`
	}
	var batch []item
	for _, v := range variants {
		batch = append(batch, item{Secret: tornadoSecret{plain: "secret"}, Name: "name", Signed: v.signed, Clock: vectorClock})
	}
	in, err := json.Marshal(batch)
	require.NoError(t, err)
	var verdicts []tornadoVerdict
	require.NoError(t, json.Unmarshal(runHelper(t, py, in, "decode"), &verdicts))
	require.Len(t, verdicts, len(variants))
	for i, v := range variants {
		if v.want == nil {
			require.NotNil(t, verdicts[i].OKHex, "%s: Tornado rejected %q", v.name, v.signed)
			assert.Equal(t, hex.EncodeToString([]byte("value")), *verdicts[i].OKHex, v.name)
			continue
		}
		assert.Nil(t, verdicts[i].OKHex, "%s: Tornado accepted %q", v.name, v.signed)
	}
}
