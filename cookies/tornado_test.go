package cookies_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/cookies"
)

// The two vectors quoted in the issue, made by Debian's python3-tornado 6.2.
const (
	issueV2 = "2|1:0|10:1300000000|4:name|8:dmFsdWU=|dde970934c3dca1ee18c228683b8f88369d856f5b9b7f0fd5eab44aa165210bd"
	issueV1 = "dmFsdWU=|1300000000|9e7727150808365bebff0a6404df2acfefd24d51"
)

func TestTornadoIssueVectors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version int
		want    string
	}{{2, issueV2}, {1, issueV1}} {
		codec, err := cookies.NewTornadoCodec(cookies.SingleKey("secret"),
			cookies.WithVersion(tc.version), cookies.WithClock(fixedClock(vectorClock)))
		require.NoError(t, err)
		got, err := codec.Encode("name", []byte("value"))
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
		value, err := codec.Decode("name", tc.want, 0)
		require.NoError(t, err)
		assert.Equal(t, "value", string(value))
	}
}

func TestTornadoRoundTrip(t *testing.T) {
	t.Parallel()
	values := map[string][]byte{
		"empty":     {},
		"ascii":     []byte("hello"),
		"non-ASCII": []byte("héllo ☃"),
		"binary":    {0, 0xff, '|', ':', '\n', 0x80},
		"long":      []byte(strings.Repeat("x", 5000)),
	}
	for _, version := range []int{1, 2} {
		for label, value := range values {
			t.Run(label, func(t *testing.T) {
				t.Parallel()
				keys := rotation()
				if version == 1 {
					keys = cookies.SingleKey("secret") // v1 names no key: Tornado allows it only with a plain secret
				}
				codec, err := cookies.NewTornadoCodec(keys, cookies.WithVersion(version))
				require.NoError(t, err)
				signed, err := codec.Encode("sess|ion:", value)
				require.NoError(t, err)
				got, err := codec.Decode("sess|ion:", signed, 0)
				require.NoError(t, err)
				assert.Equal(t, value, got)
			})
		}
	}
}

// TestTornadoRotation walks a key rotation: cookies signed with the old key
// stay readable after the new key becomes current, and stop being readable
// once the old key is dropped.
func TestTornadoRotation(t *testing.T) {
	t.Parallel()
	clock := fixedClock(vectorClock)
	old, err := cookies.NewTornadoCodec(cookies.SingleKey("secret"), cookies.WithClock(clock))
	require.NoError(t, err)
	rotated, err := cookies.NewTornadoCodec(rotation(), cookies.WithClock(clock))
	require.NoError(t, err)
	retired, err := cookies.NewTornadoCodec(cookies.KeySet{Keys: map[int]string{1: "newsecret"}, Current: 1},
		cookies.WithClock(clock))
	require.NoError(t, err)

	oldValue, err := old.Encode("name", []byte("v"))
	require.NoError(t, err)
	newValue, err := rotated.Encode("name", []byte("v"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(newValue, "2|1:1|"), newValue)

	for _, tc := range []struct {
		label   string
		codec   *cookies.TornadoCodec
		value   string
		wantErr error
		wantKey int
	}{
		{"old read by rotated", rotated, oldValue, nil, 0},
		{"new read by rotated", rotated, newValue, nil, 1},
		{"new read by old", old, newValue, cookies.ErrUnknownKey, 1},
		{"old read after retiring key 0", retired, oldValue, cookies.ErrUnknownKey, 0},
		{"new read after retiring key 0", retired, newValue, nil, 1},
	} {
		t.Run(tc.label, func(t *testing.T) {
			_, err := tc.codec.Decode("name", tc.value, 0)
			require.ErrorIs(t, err, tc.wantErr)
			kv, err := tc.codec.KeyVersion(tc.value)
			require.NoError(t, err)
			assert.Equal(t, tc.wantKey, kv)
		})
	}

	// Version 1 names no key: as in Tornado, it is read with the plain
	// secret only, and rotating to a key set ends it, even though key 0 is
	// the secret that signed it.
	v1old, err := cookies.NewTornadoCodec(cookies.SingleKey("secret"), cookies.WithVersion(1), cookies.WithClock(clock))
	require.NoError(t, err)
	v1Value, err := v1old.Encode("name", []byte("v"))
	require.NoError(t, err)
	got, err := old.Decode("name", v1Value, 0)
	require.NoError(t, err)
	assert.Equal(t, "v", string(got))
	for _, c := range []*cookies.TornadoCodec{rotated, retired} {
		_, err = c.Decode("name", v1Value, 0)
		require.ErrorIs(t, err, cookies.ErrUnsupportedVersion)
	}
	_, err = rotated.KeyVersion(v1Value)
	require.ErrorIs(t, err, cookies.ErrUnsupportedVersion)
}

// TestTornadoExpiry checks the age boundary to the nanosecond: Tornado
// compares an integer timestamp with a fractional clock.
func TestTornadoExpiry(t *testing.T) {
	t.Parallel()
	signedAt := time.Unix(vectorClock, 0)
	for _, tc := range []struct {
		label  string
		now    time.Time
		maxAge time.Duration
		want   error
	}{
		{"fresh", signedAt, 0, nil},
		{"default max age reached", signedAt.Add(31 * 24 * time.Hour), 0, nil},
		{"default max age passed by 1ns", signedAt.Add(31*24*time.Hour + 1), 0, cookies.ErrExpired},
		{"explicit max age reached", signedAt.Add(time.Hour), time.Hour, nil},
		{"explicit max age passed", signedAt.Add(time.Hour + time.Second), time.Hour, cookies.ErrExpired},
		{"clock behind the stamp", signedAt.Add(-time.Hour), 0, nil},
	} {
		t.Run(tc.label, func(t *testing.T) {
			t.Parallel()
			codec, err := cookies.NewTornadoCodec(cookies.SingleKey("secret"),
				cookies.WithClock(func() time.Time { return tc.now }))
			require.NoError(t, err)
			_, err = codec.Decode("name", issueV2, tc.maxAge)
			require.ErrorIs(t, err, tc.want)
		})
	}

	codec, err := cookies.NewTornadoCodec(cookies.SingleKey("secret"),
		cookies.WithClock(fixedClock(vectorClock+3600)), cookies.WithMaxAge(time.Minute))
	require.NoError(t, err)
	_, err = codec.Decode("name", issueV2, 0)
	require.ErrorIs(t, err, cookies.ErrExpired, "WithMaxAge sets the default")
	_, err = codec.Decode("name", issueV2, 2*time.Hour)
	require.NoError(t, err, "a per-call max age overrides it")
}

func TestTornadoMaxLength(t *testing.T) {
	t.Parallel()
	codec, err := cookies.NewTornadoCodec(cookies.SingleKey("secret"),
		cookies.WithClock(fixedClock(vectorClock)), cookies.WithMaxLength(len(issueV2)))
	require.NoError(t, err)
	got, err := codec.Encode("name", []byte("value"))
	require.NoError(t, err)
	assert.Equal(t, issueV2, got)
	_, err = codec.Encode("name", []byte("value!!!"))
	require.ErrorIs(t, err, cookies.ErrTooLong)
	_, err = codec.Decode("name", issueV2+"0", 0)
	require.ErrorIs(t, err, cookies.ErrTooLong)
}

func TestNewTornadoCodecErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		label string
		keys  cookies.KeySet
		opts  []cookies.TornadoOption
	}{
		{"no keys", cookies.KeySet{}, nil},
		{"empty secret", cookies.SingleKey(""), nil},
		{"negative version", cookies.KeySet{Keys: map[int]string{-1: "s"}, Current: -1}, nil},
		{"current missing", cookies.KeySet{Keys: map[int]string{0: "s"}, Current: 1}, nil},
		{"format version 3", cookies.SingleKey("s"), []cookies.TornadoOption{cookies.WithVersion(3)}},
		{"min version 3", cookies.SingleKey("s"), []cookies.TornadoOption{cookies.WithMinVersion(3)}},
		{"zero max age", cookies.SingleKey("s"), []cookies.TornadoOption{cookies.WithMaxAge(0)}},
		{"negative max length", cookies.SingleKey("s"), []cookies.TornadoOption{cookies.WithMaxLength(-1)}},
		// Tornado's create_signed_value asserts the secret is not a dict for v1.
		{"format version 1 with a key set", rotation(), []cookies.TornadoOption{cookies.WithVersion(1)}},
		{"format version 1 with a one-key set", cookies.KeySet{Keys: map[int]string{0: "s"}},
			[]cookies.TornadoOption{cookies.WithVersion(1)}},
	} {
		t.Run(tc.label, func(t *testing.T) {
			t.Parallel()
			_, err := cookies.NewTornadoCodec(tc.keys, tc.opts...)
			require.ErrorIs(t, err, cookies.ErrConfig)
		})
	}
}

// TestTornadoKeySetCopied: changing the caller's map after construction
// does not reach the codec.
func TestTornadoKeySetCopied(t *testing.T) {
	t.Parallel()
	ks := cookies.SingleKey("secret")
	codec, err := cookies.NewTornadoCodec(ks, cookies.WithClock(fixedClock(vectorClock)))
	require.NoError(t, err)
	ks.Keys[0] = "changed"
	_, err = codec.Decode("name", issueV2, 0)
	require.NoError(t, err)
}

// TestDecodeErrorsHideValue: errors name the cookie but never carry its
// value, so they can be logged.
func TestDecodeErrorsHideValue(t *testing.T) {
	t.Parallel()
	tornado, err := cookies.NewTornadoCodec(cookies.SingleKey("other"))
	require.NoError(t, err)
	secure, err := cookies.NewSecureCookieCodec(cookies.SingleKey("other"))
	require.NoError(t, err)
	for _, codec := range []cookies.Codec{tornado, secure} {
		for _, value := range []string{issueV2, issueV1, "2|1:0|garbage", "dmFsdWU="} {
			_, err := codec.Decode("name", value, 0)
			require.Error(t, err)
			assert.Contains(t, err.Error(), `"name"`)
			assert.NotContains(t, err.Error(), "dmFsdWU=")
		}
	}
}

func TestTornadoConcurrent(t *testing.T) {
	t.Parallel()
	codec, err := cookies.NewTornadoCodec(rotation())
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				value := []byte{byte(i)}
				signed, err := codec.Encode("n", value)
				if !assert.NoError(t, err) {
					return
				}
				got, err := codec.Decode("n", signed, 0)
				if !assert.NoError(t, err) || !assert.Equal(t, value, got) {
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestTornadoEncodeRefusesNewlineName(t *testing.T) {
	t.Parallel()
	codec, err := cookies.NewTornadoCodec(cookies.SingleKey("secret"))
	require.NoError(t, err)
	_, err = codec.Encode("a\nb", []byte("v"))
	require.ErrorIs(t, err, cookies.ErrInvalidName)

	v1, err := cookies.NewTornadoCodec(cookies.SingleKey("secret"), cookies.WithVersion(1))
	require.NoError(t, err)
	signed, err := v1.Encode("a\nb", []byte("v"))
	require.NoError(t, err, "v1 keeps the name out of the value")
	_, err = v1.Decode("a\nb", signed, 0)
	require.NoError(t, err)
}
