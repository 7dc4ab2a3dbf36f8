package cookies_test

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/cookies"
	"github.com/tornago/tornago/internal/testenv"
)

// tornadoServer runs testdata/tornado_helper.py serve: two Tornado
// applications, "plain" (cookie_secret "secret") and "rotated"
// ({0: "secret", 1: "newsecret"}, key_version 1), each with
// /set?name=&hex=&version= (set_secure_cookie) and /get?name=&min_version=
// (get_secure_cookie: 200 with the hex payload, or 403).
type tornadoServer struct {
	base   map[string]string // app label → base URL
	client *http.Client
}

func startTornado(t *testing.T) *tornadoServer {
	t.Helper()
	py := tornadoPython(t)
	tornado := testenv.StartChild(t, exec.Command(py, filepath.Join("testdata", "tornado_helper.py"), "serve"))
	line := tornado.Line(t, 30*time.Second)
	var ports map[string]int
	require.NoError(t, json.Unmarshal([]byte(line), &ports), "server said %q", line)
	srv := &tornadoServer{base: map[string]string{}, client: &http.Client{
		Transport: &http.Transport{},
		Timeout:   10 * time.Second,
	}}
	t.Cleanup(srv.client.CloseIdleConnections)
	for label, port := range ports {
		srv.base[label] = "http://127.0.0.1:" + strconv.Itoa(port)
	}
	return srv
}

// set asks Tornado app to set_secure_cookie(name, value, version) and
// returns the cookie value as a tornago server would see it: the name=value
// pair of the Set-Cookie header (Tornado double-quotes values holding "="),
// sent back verbatim in a Cookie header as a browser does, and read with
// net/http's (*Request).Cookie.
func (s *tornadoServer) set(t *testing.T, app, name string, value []byte, version int) string {
	t.Helper()
	q := url.Values{"name": {name}, "hex": {hex.EncodeToString(value)}, "version": {strconv.Itoa(version)}}
	resp, err := s.client.Get(s.base[app] + "/set?" + q.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, h := range resp.Header.Values("Set-Cookie") {
		pair, _, _ := strings.Cut(h, ";")
		if !strings.HasPrefix(pair, name+"=") {
			continue
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Cookie", pair)
		c, err := req.Cookie(name)
		require.NoError(t, err)
		return c.Value
	}
	t.Fatalf("no %q in Set-Cookie %q", name, resp.Header.Values("Set-Cookie"))
	return ""
}

// get sends cookie name=value to Tornado app's get_secure_cookie(name) and
// returns the payload it read, or ok=false when it rejected the cookie.
func (s *tornadoServer) get(t *testing.T, app, name, value string, minVersion int) (payload []byte, ok bool) {
	t.Helper()
	q := url.Values{"name": {name}}
	if minVersion != 0 {
		q.Set("min_version", strconv.Itoa(minVersion))
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.base[app]+"/get?"+q.Encode(), nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: name, Value: value})
	resp, err := s.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode == http.StatusForbidden {
		return nil, false
	}
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	payload, err = hex.DecodeString(string(body))
	require.NoError(t, err)
	return payload, true
}

// TestTornadoInterop: a cookie set by a running Tornado application is read
// by tornago, and one set by tornago is read by Tornado, through real
// Set-Cookie and Cookie headers, including across a key rotation.
func TestTornadoInterop(t *testing.T) {
	t.Parallel()
	srv := startTornado(t)
	codec := func(keys cookies.KeySet, opts ...cookies.TornadoOption) *cookies.TornadoCodec {
		c, err := cookies.NewTornadoCodec(keys, opts...)
		require.NoError(t, err)
		return c
	}
	plain := codec(cookies.SingleKey("secret"))
	plainV1 := codec(cookies.SingleKey("secret"), cookies.WithVersion(1))
	rotated := codec(rotation())
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}

	t.Run("Tornado to tornago", func(t *testing.T) {
		for _, tc := range []struct {
			label   string
			app     string
			version int
			value   []byte
			reader  *cookies.TornadoCodec
			wantErr error
		}{
			{"v2", "plain", 2, []byte("value"), plain, nil},
			{"v1", "plain", 1, []byte("value"), plain, nil},
			{"v2 non-ASCII", "plain", 2, []byte("héllo ☃ 日本"), plain, nil},
			{"v2 binary", "plain", 2, binary, plain, nil},
			{"v1 binary", "plain", 1, binary, plain, nil},
			{"v2 empty", "plain", 2, []byte{}, plain, nil},
			{"rotated key 1", "rotated", 2, []byte("value"), rotated, nil},
			{"plain secret read after rotation", "plain", 2, []byte("value"), rotated, nil},
			{"rotated key 1 read without it", "rotated", 2, []byte("value"), plain, cookies.ErrUnknownKey},
			{"v1 read after rotation", "plain", 1, []byte("value"), rotated, cookies.ErrUnsupportedVersion},
			{"v1 with min version 2", "plain", 1, []byte("value"),
				codec(cookies.SingleKey("secret"), cookies.WithMinVersion(2)), cookies.ErrUnsupportedVersion},
		} {
			t.Run(tc.label, func(t *testing.T) {
				value := srv.set(t, tc.app, "sess", tc.value, tc.version)
				got, err := tc.reader.Decode("sess", value, 0)
				require.ErrorIs(t, err, tc.wantErr)
				if tc.wantErr == nil {
					assert.Equal(t, tc.value, got)
				}
				_, err = tc.reader.Decode("other", value, 0)
				require.Error(t, err, "a cookie is bound to its name")
			})
		}
	})

	t.Run("tornago to Tornado", func(t *testing.T) {
		for _, tc := range []struct {
			label      string
			writer     *cookies.TornadoCodec
			value      []byte
			signedFor  string // cookie name the value is signed for ("" = sent name)
			app        string
			minVersion int
			wantOK     bool
		}{
			{"v2", plain, []byte("value"), "", "plain", 0, true},
			{"v1", plainV1, []byte("value"), "", "plain", 0, true},
			{"v2 non-ASCII", plain, []byte("héllo ☃ 日本"), "", "plain", 0, true},
			{"v2 binary", plain, binary, "", "plain", 0, true},
			{"v1 binary", plainV1, binary, "", "plain", 0, true},
			{"v2 empty", plain, []byte{}, "", "plain", 0, true},
			{"rotated key 1", rotated, []byte("value"), "", "rotated", 0, true},
			{"plain key 0 read by rotated app", plain, []byte("value"), "", "rotated", 0, true},
			{"rotated key 1 read by plain app", rotated, []byte("value"), "", "plain", 0, false},
			{"v1 with min version 2", plainV1, []byte("value"), "", "plain", 2, false},
			{"signed for another name", plain, []byte("value"), "other", "plain", 0, false},
		} {
			t.Run(tc.label, func(t *testing.T) {
				name := tc.signedFor
				if name == "" {
					name = "sess"
				}
				value, err := tc.writer.Encode(name, tc.value)
				require.NoError(t, err)
				got, ok := srv.get(t, tc.app, "sess", value, tc.minVersion)
				require.Equal(t, tc.wantOK, ok)
				if tc.wantOK {
					assert.Equal(t, tc.value, got)
				}
			})
		}
	})
}

// TestTornadoDecodesTornagoValues feeds many tornago-made values (random
// payloads, both versions, both keys, odd names) to Tornado's
// decode_signed_value and expects each payload back.
func TestTornadoDecodesTornagoValues(t *testing.T) {
	t.Parallel()
	py := tornadoPython(t)
	rng := rand.New(rand.NewPCG(1, 2))
	type item struct {
		Secret  tornadoSecret `json:"secret"`
		Name    string        `json:"name"`
		Signed  string        `json:"signed"`
		Clock   int64         `json:"clock"`
		wantHex string
	}
	dict := tornadoSecret{dict: map[string]string{"0": "secret", "1": "newsecret"}}
	var batch []item
	for i := range 300 {
		version := 1 + i%2
		ks, secret := cookies.SingleKey("secret"), tornadoSecret{plain: "secret"}
		if version == 2 && i%4 == 1 {
			ks, secret = rotation(), dict
		}
		// A non-ASCII name gets its byte length, which Tornado reads, where
		// Tornado's encoder would write its code-point count.
		name := []string{"session", "a|b:c", "nämé", "x"}[rng.IntN(4)]
		payload := make([]byte, rng.IntN(300))
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		clock := vectorClock + rng.Int64N(1e8)
		c, err := cookies.NewTornadoCodec(ks, cookies.WithVersion(version), cookies.WithClock(fixedClock(clock)))
		require.NoError(t, err)
		signed, err := c.Encode(name, payload)
		require.NoError(t, err)
		batch = append(batch, item{Secret: secret, Name: name, Signed: signed, Clock: clock, wantHex: hex.EncodeToString(payload)})
	}
	in, err := json.Marshal(batch)
	require.NoError(t, err)
	var verdicts []tornadoVerdict
	require.NoError(t, json.Unmarshal(runHelper(t, py, in, "decode"), &verdicts))
	require.Len(t, verdicts, len(batch))
	for i, v := range verdicts {
		require.NotNil(t, v.OKHex, "Tornado rejected %q (name %q): %+v", batch[i].Signed, batch[i].Name, v)
		assert.Equal(t, batch[i].wantHex, *v.OKHex)
	}
}
