package cookies_test

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/cookies"
)

func newSecure(t testing.TB, keys cookies.KeySet, opts ...cookies.SecureCookieOption) *cookies.SecureCookieCodec {
	t.Helper()
	c, err := cookies.NewSecureCookieCodec(keys, opts...)
	require.NoError(t, err)
	return c
}

func TestSecureCookieRoundTrip(t *testing.T) {
	t.Parallel()
	values := map[string][]byte{
		"empty":     {},
		"one byte":  {0},
		"ascii":     []byte("hello"),
		"non-ASCII": []byte("héllo ☃"),
		"binary":    {0, 0xff, '|', ':', '\n', 0x80},
		"16 bytes":  []byte("0123456789abcdef"),
		"long":      []byte(strings.Repeat("x", 2000)),
	}
	for _, encrypt := range []bool{false, true} {
		var opts []cookies.SecureCookieOption
		if encrypt {
			opts = append(opts, cookies.WithEncryption())
		}
		codec := newSecure(t, rotation(), opts...)
		for label, value := range values {
			t.Run(label, func(t *testing.T) {
				t.Parallel()
				signed, err := codec.Encode("session", value)
				require.NoError(t, err)
				got, err := codec.Decode("session", signed, 0)
				require.NoError(t, err)
				assert.Equal(t, value, got)
				if encrypt && len(value) > 3 {
					raw, err := base64.URLEncoding.DecodeString(signed)
					require.NoError(t, err)
					assert.NotContains(t, string(raw), base64.URLEncoding.EncodeToString(value))
				}
			})
		}
	}
}

// gorillaFor builds a plain gorilla/securecookie codec from the documented
// key derivation, as another Go program sharing the cookies would.
func gorillaFor(t testing.TB, secret string, encrypt bool) *securecookie.SecureCookie {
	t.Helper()
	info := cookies.HashKeyInfo
	if encrypt {
		info = cookies.EncryptedHashKeyInfo
	}
	hashKey, err := hkdf.Key(sha256.New, []byte(secret), nil, info, 32)
	require.NoError(t, err)
	var blockKey []byte
	if encrypt {
		blockKey, err = hkdf.Key(sha256.New, []byte(secret), nil, cookies.BlockKeyInfo, 32)
		require.NoError(t, err)
	}
	return securecookie.New(hashKey, blockKey).SetSerializer(securecookie.NopEncoder{})
}

// TestSecureCookieGorillaFormat: values are standard gorilla/securecookie
// values under the documented HKDF derivation, in both directions.
func TestSecureCookieGorillaFormat(t *testing.T) {
	t.Parallel()
	for _, encrypt := range []bool{false, true} {
		var opts []cookies.SecureCookieOption
		if encrypt {
			opts = append(opts, cookies.WithEncryption())
		}
		codec := newSecure(t, cookies.SingleKey("s3cret"), opts...)
		g := gorillaFor(t, "s3cret", encrypt)

		ours, err := codec.Encode("name", []byte("from tornago"))
		require.NoError(t, err)
		var got []byte
		require.NoError(t, g.Decode("name", ours, &got))
		assert.Equal(t, "from tornago", string(got))

		theirs, err := g.Encode("name", []byte("from gorilla"))
		require.NoError(t, err)
		got, err = codec.Decode("name", theirs, 0)
		require.NoError(t, err)
		assert.Equal(t, "from gorilla", string(got))
	}
}

func TestSecureCookieRotation(t *testing.T) {
	t.Parallel()
	old := newSecure(t, cookies.SingleKey("secret"))
	rotated := newSecure(t, rotation())
	retired := newSecure(t, cookies.KeySet{Keys: map[int]string{1: "newsecret"}, Current: 1})

	oldValue, err := old.Encode("name", []byte("v"))
	require.NoError(t, err)
	newValue, err := rotated.Encode("name", []byte("v"))
	require.NoError(t, err)

	for _, tc := range []struct {
		label   string
		codec   *cookies.SecureCookieCodec
		value   string
		wantErr error
	}{
		{"old read by rotated", rotated, oldValue, nil},
		{"new read by rotated", rotated, newValue, nil},
		{"new read by old", old, newValue, cookies.ErrInvalidSignature},
		{"old read after retiring key 0", retired, oldValue, cookies.ErrInvalidSignature},
		{"new read after retiring key 0", retired, newValue, nil},
	} {
		t.Run(tc.label, func(t *testing.T) {
			got, err := tc.codec.Decode("name", tc.value, 0)
			require.ErrorIs(t, err, tc.wantErr)
			if tc.wantErr == nil {
				assert.Equal(t, "v", string(got))
			}
		})
	}
}

func TestSecureCookieRejects(t *testing.T) {
	t.Parallel()
	plain := newSecure(t, cookies.SingleKey("secret"))
	encrypted := newSecure(t, cookies.SingleKey("secret"), cookies.WithEncryption())
	good, err := plain.Encode("name", []byte("value"))
	require.NoError(t, err)
	goodEncrypted, err := encrypted.Encode("name", []byte("value"))
	require.NoError(t, err)

	raw, err := base64.URLEncoding.DecodeString(good)
	require.NoError(t, err)
	stamp, rest, _ := strings.Cut(string(raw), "|")
	payload, mac, _ := strings.Cut(rest, "|")
	reencode := func(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }
	flipped := []byte(mac)
	flipped[0] ^= 1

	for _, tc := range []struct {
		label string
		codec *cookies.SecureCookieCodec
		name  string
		value string
		want  error
	}{
		{"empty", plain, "name", "", cookies.ErrMalformed},
		{"not base64", plain, "name", "***", cookies.ErrMalformed},
		{"no separators", plain, "name", reencode("abc"), cookies.ErrMalformed},
		{"short MAC", plain, "name", reencode(stamp + "|" + payload + "|" + mac[:31]), cookies.ErrMalformed},
		{"payload not base64", plain, "name", reencode(stamp + "|%%%%|" + mac), cookies.ErrMalformed},
		{"tampered payload", plain, "name", reencode(stamp + "|" + reencode("evil") + "|" + mac), cookies.ErrInvalidSignature},
		{"tampered timestamp", plain, "name", reencode("1|" + payload + "|" + mac), cookies.ErrInvalidSignature},
		{"tampered MAC", plain, "name", reencode(stamp + "|" + payload + "|" + string(flipped)), cookies.ErrInvalidSignature},
		{"wrong name", plain, "other", good, cookies.ErrInvalidSignature},
		{"wrong secret", newSecure(t, cookies.SingleKey("other")), "name", good, cookies.ErrInvalidSignature},
		{"plain value, encrypting codec", encrypted, "name", good, cookies.ErrInvalidSignature},
		{"encrypted value, plain codec", plain, "name", goodEncrypted, cookies.ErrInvalidSignature},
		{"Tornado value", plain, "name", issueV2, cookies.ErrMalformed},
		{"too long", plain, "name", strings.Repeat("A", 4097), cookies.ErrTooLong},
	} {
		t.Run(tc.label, func(t *testing.T) {
			t.Parallel()
			got, err := tc.codec.Decode(tc.name, tc.value, 0)
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, got)
		})
	}
}

func TestSecureCookieExpiry(t *testing.T) {
	t.Parallel()
	// gorilla/securecookie stamps with the system clock; the codec's clock
	// only decides age.
	signer := newSecure(t, cookies.SingleKey("secret"))
	signed, err := signer.Encode("name", []byte("v"))
	require.NoError(t, err)
	signedAt := time.Now()
	for _, tc := range []struct {
		label  string
		later  time.Duration
		maxAge time.Duration
		want   error
	}{
		{"fresh", 0, 0, nil},
		{"within default max age", 30 * 24 * time.Hour, 0, nil},
		{"past default max age", 32 * 24 * time.Hour, 0, cookies.ErrExpired},
		{"past explicit max age", 2 * time.Hour, time.Hour, cookies.ErrExpired},
		{"within explicit max age", 2 * time.Hour, 3 * time.Hour, nil},
	} {
		t.Run(tc.label, func(t *testing.T) {
			t.Parallel()
			codec := newSecure(t, cookies.SingleKey("secret"),
				cookies.WithClock(func() time.Time { return signedAt.Add(tc.later) }))
			_, err := codec.Decode("name", signed, tc.maxAge)
			require.ErrorIs(t, err, tc.want)
		})
	}
	short := newSecure(t, cookies.SingleKey("secret"), cookies.WithMaxAge(time.Minute),
		cookies.WithClock(func() time.Time { return signedAt.Add(time.Hour) }))
	_, err = short.Decode("name", signed, 0)
	require.ErrorIs(t, err, cookies.ErrExpired)
}

func TestSecureCookieMaxLength(t *testing.T) {
	t.Parallel()
	codec := newSecure(t, cookies.SingleKey("secret"))
	_, err := codec.Encode("name", make([]byte, 3000))
	require.ErrorIs(t, err, cookies.ErrTooLong, "4096 bytes by default")

	unlimited := newSecure(t, cookies.SingleKey("secret"), cookies.WithMaxLength(0))
	signed, err := unlimited.Encode("name", make([]byte, 3000))
	require.NoError(t, err)
	_, err = codec.Decode("name", signed, 0)
	require.ErrorIs(t, err, cookies.ErrTooLong)
	got, err := unlimited.Decode("name", signed, 0)
	require.NoError(t, err)
	assert.Len(t, got, 3000)
}

func TestNewSecureCookieCodecErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		label string
		keys  cookies.KeySet
		opts  []cookies.SecureCookieOption
	}{
		{"no keys", cookies.KeySet{}, nil},
		{"empty secret", cookies.KeySet{Keys: map[int]string{0: "a", 1: ""}}, nil},
		{"current missing", cookies.KeySet{Keys: map[int]string{0: "s"}, Current: 2}, nil},
		{"negative max age", cookies.SingleKey("s"), []cookies.SecureCookieOption{cookies.WithMaxAge(-time.Second)}},
	} {
		t.Run(tc.label, func(t *testing.T) {
			t.Parallel()
			_, err := cookies.NewSecureCookieCodec(tc.keys, tc.opts...)
			require.ErrorIs(t, err, cookies.ErrConfig)
		})
	}
}

// TestSecureCookieEncodeKeepsInput: gorilla/securecookie encrypts in place;
// the caller's slice must survive Encode.
func TestSecureCookieEncodeKeepsInput(t *testing.T) {
	t.Parallel()
	codec := newSecure(t, cookies.SingleKey("secret"), cookies.WithEncryption())
	value := []byte("keep me")
	_, err := codec.Encode("name", value)
	require.NoError(t, err)
	assert.Equal(t, "keep me", string(value))
}

// A Tornado application's cookies read with the default codec are the usual
// porting mistake: the error names the format and the codec to use instead
// of base64's complaint about byte 1.
func TestSecureCookieNamesTornadoValues(t *testing.T) {
	t.Parallel()
	codec, err := cookies.NewSecureCookieCodec(cookies.SingleKey("secret"))
	require.NoError(t, err)
	for _, tc := range []struct {
		value   string
		version string
	}{
		{issueV2, "version 2"},
		{issueV1, "version 1"},
	} {
		_, err := codec.Decode("name", tc.value, 0)
		require.ErrorIs(t, err, cookies.ErrMalformed)
		assert.ErrorContains(t, err, "a Tornado "+tc.version+" signed value")
		assert.ErrorContains(t, err, "cookies.NewTornadoCodec")
		assert.NotContains(t, err.Error(), "base64")
	}
	// Values that only look partly like Tornado's keep base64's error.
	for _, v := range []string{"2|1:0|garbage", "a|b|c", "dmFsdWU=|1300000000|not-hex-not-hex-not-hex-not-hex-not-hex!"} {
		_, err := codec.Decode("name", v, 0)
		require.ErrorIs(t, err, cookies.ErrMalformed, v)
		assert.NotContains(t, err.Error(), "Tornado", v)
	}
}
