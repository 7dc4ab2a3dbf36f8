package cookies

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

var decodeErrors = []error{
	ErrMalformed, ErrTooLong, ErrUnsupportedVersion, ErrUnknownKey,
	ErrInvalidSignature, ErrWrongName, ErrExpired, ErrBadTimestamp,
}

// checkDecodeError fails t unless err wraps exactly one decode sentinel.
func checkDecodeError(t *testing.T, err error) {
	t.Helper()
	n := 0
	for _, e := range decodeErrors {
		if errors.Is(err, e) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error %v wraps %d sentinels, want 1", err, n)
	}
}

// addVectorSeeds adds every signed value in the Tornado vectors.
func addVectorSeeds(f *testing.F) {
	b, err := os.ReadFile("testdata/tornado_vectors.json")
	if err != nil {
		f.Fatal(err)
	}
	var v struct {
		Encode []struct{ Name, Signed string }
		Decode []struct{ Name, Signed string }
	}
	if err := json.Unmarshal(b, &v); err != nil {
		f.Fatal(err)
	}
	for _, e := range append(v.Encode, v.Decode...) {
		f.Add(e.Name, e.Signed)
	}
}

// resign replaces value's signature with a valid one for name and key 0 of
// "secret", keeping whatever hostile structure precedes it, so that fuzzing
// reaches the checks behind the MAC.
func resign(name, value string) string {
	if strings.HasPrefix(value, "2|") {
		i := strings.LastIndexByte(value, '|')
		return value[:i+1] + signV2("secret", value[:i+1])
	}
	parts := strings.Split(value, "|")
	if len(parts) != 3 {
		return value
	}
	return parts[0] + "|" + parts[1] + "|" + signV1("secret", name, parts[0], parts[1])
}

// FuzzTornadoDecode feeds hostile values to the Tornado codec, as they come
// and re-signed. Decode must not panic, must fail with exactly one sentinel,
// and may accept only canonical values: what Encode would write for the
// decoded payload, key version and timestamp.
func FuzzTornadoDecode(f *testing.F) {
	addVectorSeeds(f)
	f.Add("name", "2|1:0|10:1300000000|4:name|8:dmFsdWU=|")
	f.Add("name", "2|99999999999999999999:0|")
	f.Add("name", "dmFsdWU=|99999999999999999999999|")
	f.Add("name", "1000|1300000000|x")
	f.Add("", "|")
	now := time.Unix(1300000000, 0)
	codecs := []*TornadoCodec{}
	for _, ks := range []KeySet{SingleKey("secret"), {Keys: map[int]string{0: "secret", 1: "newsecret"}, Current: 1}} {
		for _, mv := range []int{1, 2} {
			c, err := NewTornadoCodec(ks, WithClock(func() time.Time { return now }), WithMinVersion(mv))
			if err != nil {
				f.Fatal(err)
			}
			codecs = append(codecs, c)
		}
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		if fields, err := parseV2(value); err == nil {
			var b strings.Builder
			b.WriteString("2|")
			for _, s := range []string{strconv.Itoa(fields.keyVersion), strconv.FormatInt(fields.timestamp, 10), fields.name, fields.value} {
				b.WriteString(strconv.Itoa(len(s)) + ":" + s + "|")
			}
			if b.String()+fields.sig != value {
				t.Fatalf("parseV2 accepted non-canonical %q", value)
			}
		}
		for _, v := range []string{value, resign(name, value)} {
			for _, c := range codecs {
				got, err := c.Decode(name, v, 0)
				if err != nil {
					checkDecodeError(t, err)
					continue
				}
				checkCanonical(t, c, name, v, got)
			}
		}
	})
}

// checkCanonical fails t unless value is exactly what c writes for payload.
func checkCanonical(t *testing.T, c *TornadoCodec, name, value string, payload []byte) {
	t.Helper()
	if signedValueVersion(value) == 2 {
		f, err := parseV2(value)
		if err != nil {
			t.Fatalf("accepted %q that does not parse: %v", value, err)
		}
		if again := c.encodeAt(2, f.keyVersion, f.timestamp, name, payload); again != value {
			t.Fatalf("accepted non-canonical %q; canonical %q", value, again)
		}
		return
	}
	parts := strings.Split(value, "|")
	if len(parts) != 3 || parts[0] != base64.StdEncoding.EncodeToString(payload) ||
		strconv.FormatInt(mustParse(t, parts[1]), 10) != parts[1] {
		t.Fatalf("accepted non-canonical v1 %q", value)
	}
}

func mustParse(t *testing.T, s string) int64 {
	t.Helper()
	n, ok := parseDecimal(s)
	if !ok {
		t.Fatalf("bad number %q", s)
	}
	return n
}

// FuzzTornadoRoundTrip: every name and payload survives Encode and Decode
// in both versions.
func FuzzTornadoRoundTrip(f *testing.F) {
	f.Add("name", []byte("value"), int64(1300000000))
	f.Add("a|b:c", []byte{0, 0xff}, int64(1))
	f.Add("nämé", []byte{}, int64(1<<40))
	f.Fuzz(func(t *testing.T, name string, payload []byte, ts int64) {
		if ts < 1 || ts > 1<<40 {
			return // Tornado rejects v1 timestamp 0 ("leading zero") too
		}
		now := time.Unix(ts, 0)
		for _, version := range []int{1, 2} {
			c, err := NewTornadoCodec(SingleKey("secret"), WithVersion(version), WithClock(func() time.Time { return now }))
			if err != nil {
				t.Fatal(err)
			}
			v, err := c.Encode(name, payload)
			if version == 2 && strings.Contains(name, "\n") {
				if !errors.Is(err, ErrInvalidName) {
					t.Fatalf("name %q: got %v, want ErrInvalidName", name, err)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Decode(name, v, 0)
			if err != nil {
				t.Fatalf("v%d %q: %v", version, v, err)
			}
			if string(got) != string(payload) {
				t.Fatalf("v%d: got %q, want %q", version, got, payload)
			}
		}
	})
}

// FuzzSecureDecode feeds hostile values to the securecookie codec, with and
// without encryption: no panic, exactly one sentinel on failure.
func FuzzSecureDecode(f *testing.F) {
	var codecs []*SecureCookieCodec
	for _, opts := range [][]SecureCookieOption{nil, {WithEncryption()}} {
		c, err := NewSecureCookieCodec(KeySet{Keys: map[int]string{0: "secret", 1: "newsecret"}, Current: 1}, opts...)
		if err != nil {
			f.Fatal(err)
		}
		codecs = append(codecs, c)
		for _, p := range []string{"", "value", strings.Repeat("x", 100)} {
			v, err := c.Encode("name", []byte(p))
			if err != nil {
				f.Fatal(err)
			}
			f.Add("name", v)
		}
	}
	f.Add("name", base64.URLEncoding.EncodeToString([]byte("1|AAAA|"+strings.Repeat("x", 32))))
	f.Fuzz(func(t *testing.T, name, value string) {
		for _, c := range codecs {
			if _, err := c.Decode(name, value, 0); err != nil {
				checkDecodeError(t, err)
			}
		}
	})
}
