package tornago_test

import (
	"crypto/sha512"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/internal/rawpeer"
)

// staticDir makes dir/static with a few files and a secret next to it.
func staticDir(t *testing.T) (root string, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	root = filepath.Join(dir, "static")
	files = map[string]string{
		"app.css":        "body { color: red }\n",
		"sub/index.html": "<h1>index</h1>",
		"big.bin":        strings.Repeat("0123456789", 20000), // several 64 KiB chunks
		"favicon.ico":    "ICO",
		"robots.txt":     "User-agent: *",
		"digits.txt":     "0123456789",
		"archive.tar.gz": "gz",
		"archive.tar.xz": "xz",
		"noext":          "?",
	}
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("secret"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "static-other.txt"), []byte("prefix twin"), 0o644))
	require.NoError(t, os.Symlink(filepath.Join(dir, "secret.txt"), filepath.Join(root, "link.txt")))
	return root, files
}

func sha512hex(s string) string {
	sum := sha512.Sum512([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	root, files := staticDir(t)
	ta := newTestApp(t, []tornago.Route{
		{Pattern: `/docs/(.*)`, Handler: func() tornago.Handler {
			return &tornago.StaticFileHandler{Path: root, DefaultFilename: "index.html"}
		}},
		{Pattern: `/url`, Handler: fn(func(h *funcHandler, _ ...string) error {
			u, err := h.StaticURL(h.PathKwarg("x") + "app.css")
			if err != nil {
				return err
			}
			return h.Write(u)
		})},
	}, tornago.Settings{StaticPath: root})

	css := ta.get("/static/app.css")
	require.Equal(t, 200, css.StatusCode)
	assert.Equal(t, files["app.css"], css.Body)
	assert.Equal(t, "text/css; charset=utf-8", css.Header.Get("Content-Type"))
	assert.Equal(t, `"`+sha512hex(files["app.css"])+`"`, css.Header.Get("Etag"))
	assert.Equal(t, "bytes", css.Header.Get("Accept-Ranges"))
	assert.Empty(t, css.Header.Get("Cache-Control"))
	modified, err := http.ParseTime(css.Header.Get("Last-Modified"))
	require.NoError(t, err)

	versioned := ta.get("/static/app.css?v=1")
	assert.Equal(t, "max-age=315360000", versioned.Header.Get("Cache-Control"))
	assert.NotEmpty(t, versioned.Header.Get("Expires"))

	assert.Equal(t, "/static/app.css?v="+sha512hex(files["app.css"]), ta.get("/url").Body)

	big := ta.get("/static/big.bin")
	assert.Equal(t, files["big.bin"], big.Body)
	assert.Equal(t, int64(len(files["big.bin"])), big.ContentLength)
	assert.Equal(t, "application/octet-stream", big.Header.Get("Content-Type"))

	head := ta.do("HEAD", "/static/big.bin", "")
	assert.Equal(t, 200, head.StatusCode)
	assert.Empty(t, head.Body)
	assert.Equal(t, int64(len(files["big.bin"])), head.ContentLength)

	for name, ctype := range map[string]string{"archive.tar.gz": "application/gzip",
		"archive.tar.xz": "application/octet-stream", "noext": "application/octet-stream"} {
		assert.Equal(t, ctype, ta.get("/static/"+name).Header.Get("Content-Type"), name)
	}
	assert.Equal(t, "ICO", ta.get("/favicon.ico").Body)
	assert.Equal(t, "User-agent: *", ta.get("/robots.txt").Body)

	tests := []struct {
		name, path string
		header     []string
		status     int
		body       string
	}{
		{"etag match", "/static/app.css", []string{"If-None-Match", css.Header.Get("Etag")}, 304, ""},
		{"etag mismatch beats date", "/static/app.css", []string{"If-None-Match", `"x"`,
			"If-Modified-Since", modified.Format(http.TimeFormat)}, 200, files["app.css"]},
		{"not modified since", "/static/app.css", []string{"If-Modified-Since", modified.Format(http.TimeFormat)}, 304, ""},
		{"modified since", "/static/app.css", []string{"If-Modified-Since",
			modified.Add(-time.Hour).Format(http.TimeFormat)}, 200, files["app.css"]},
		{"missing", "/static/nope.css", nil, 404, errorPage("404", "Not Found")},
		{"directory", "/static/sub", nil, 403, errorPage("403", "Forbidden")},
		{"dot-dot", "/static/..%2Fsecret.txt", nil, 403, errorPage("403", "Forbidden")},
		{"encoded dot-dot", "/static/%2E%2E/secret.txt", nil, 403, errorPage("403", "Forbidden")},
		{"prefix twin", "/static/..%2Fstatic-other.txt", nil, 403, errorPage("403", "Forbidden")},
		{"symlink out", "/static/link.txt", nil, 403, errorPage("403", "Forbidden")},
		{"default filename redirect", "/docs/sub", nil, 301, ""},
		{"default filename", "/docs/sub/", nil, 200, files["sub/index.html"]},
	}
	for _, tt := range tests {
		resp := ta.get(tt.path, tt.header...)
		assert.Equal(t, tt.status, resp.StatusCode, tt.name)
		assert.Equal(t, tt.body, resp.Body, tt.name)
		assert.NotContains(t, resp.Body, "secret", tt.name)
	}
	assert.Equal(t, "/docs/sub/", ta.get("/docs/sub").Header.Get("Location"))
}

func TestStaticRanges(t *testing.T) {
	t.Parallel()
	root, _ := staticDir(t)
	ta := newTestApp(t, nil, tornago.Settings{StaticPath: root})
	tests := []struct {
		rng, body, contentRange string
		status                  int
	}{
		{"bytes=0-3", "0123", "bytes 0-3/10", 206},
		{"bytes=2-2", "2", "bytes 2-2/10", 206},
		{"bytes=7-", "789", "bytes 7-9/10", 206},
		{"bytes=-3", "789", "bytes 7-9/10", 206},
		{"bytes=-30", "0123456789", "", 200},
		{"bytes=5-100", "56789", "bytes 5-9/10", 206},
		{"bytes=0-", "0123456789", "", 200},
		{"bytes=10-", "", "bytes */10", 416},
		{"bytes=-0", "", "bytes */10", 416},
		{"bytes=3-1", "", "bytes */10", 416},
		{"bytes=0-1,4-5", "0123456789", "", 200}, // multiple ranges: ignored
		{"items=0-1", "0123456789", "", 200},
		{"bytes=x-1", "0123456789", "", 200},
		{"bytes=5-9223372036854775807", "56789", "bytes 5-9/10", 206}, // end+1 would wrap
		{"bytes=5-99999999999999999999", "56789", "bytes 5-9/10", 206},
		{"bytes=99999999999999999999-", "", "bytes */10", 416},
		{"bytes=-99999999999999999999", "0123456789", "", 200},
		{"bytes=--99999999999999999999", "", "bytes */10", 416},
	}
	for _, tt := range tests {
		resp := ta.get("/static/digits.txt", "Range", tt.rng)
		assert.Equal(t, tt.status, resp.StatusCode, tt.rng)
		assert.Equal(t, tt.body, resp.Body, tt.rng)
		assert.Equal(t, tt.contentRange, resp.Header.Get("Content-Range"), tt.rng)
		assert.Equal(t, `"`+sha512hex("0123456789")+`"`, resp.Header.Get("Etag"), "the whole file's ETag")
	}
}

func TestStaticURLVersion(t *testing.T) {
	t.Parallel()
	root, _ := staticDir(t)
	app, err := tornago.NewApplication(nil, tornago.Settings{StaticPath: root, StaticURLPrefix: "/s/",
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	u, err := app.StaticURL("digits.txt")
	require.NoError(t, err)
	assert.Equal(t, "/s/digits.txt?v="+sha512hex("0123456789"), u)

	require.NoError(t, os.WriteFile(filepath.Join(root, "digits.txt"), []byte("changed!"), 0o644))
	u, err = app.StaticURL("digits.txt")
	require.NoError(t, err)
	assert.Equal(t, "/s/digits.txt?v="+sha512hex("changed!"), u, "a changed file gets a new version")

	require.NoError(t, os.WriteFile(filepath.Join(root, "secret.txt"), []byte("a twin inside"), 0o644))
	for _, p := range []string{"missing.css", "../secret.txt", "link.txt"} {
		u, err = app.StaticURL(p)
		require.NoError(t, err)
		assert.Equal(t, "/s/"+p, u, "no version for %s", p)
	}

	bare, err := tornago.NewApplication(nil, tornago.Settings{})
	require.NoError(t, err)
	_, err = bare.StaticURL("x.css")
	assert.ErrorIs(t, err, tornago.ErrMissingSetting)
}

// TestStaticDirectoryRedirectStaysOnHost mounts StaticFileHandler as
// Tornado documents it, at `/(.*)` with a DefaultFilename, and asks for
// directories through paths a browser would read as another host once
// decoded (backslashes are slashes to browsers; tabs and newlines are
// dropped). The redirect must either stay a path on this host or be
// refused; the paths are sent raw over TCP, as an attacker's link would.
func TestStaticDirectoryRedirectStaysOnHost(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "sub"), 0o755))
	ta := newTestApp(t, route(`/(.*)`, func() tornago.Handler {
		return &tornago.StaticFileHandler{Path: root, DefaultFilename: "index.html"}
	}), tornago.Settings{})
	addr := ta.srv.Listener.Addr().String()

	for _, path := range []string{
		"/%5Cevil.example%2F..", // decoded: /\evil.example/..
		"/%5C%5Cevil.example%2F..",
		"/%2Fevil.example%2F..", // decoded: //evil.example/..
		"/%2F%2Fevil.example%2F..",
		"/%5C/evil.example/..",
		"/%09/evil.example%2F..", // decoded: /<tab>/evil.example/..
		"/%0D%0A/evil.example%2F..",
		"/%09%5Cevil.example%2F..",
		"/\\evil.example/..", // raw backslash
		"/\\/evil.example/..",
		"/\t/evil.example/..", // raw tab
		"//evil.example/..",
		"/sub/..%2F%5Cevil.example%2F..",
	} {
		resp, _ := rawpeer.Request(t, addr, "GET "+path+" HTTP/1.1\nHost: "+addr+"\nConnection: close\n\n")
		loc := resp.Header.Get("Location")
		if resp.StatusCode/100 != 3 {
			assert.Empty(t, loc, path)
			continue
		}
		require.NotEmpty(t, loc, path)
		// The WHATWG URL parser drops tabs and newlines and reads "\" as
		// "/" in special schemes: what remains must not start with "//".
		browser := strings.NewReplacer("\t", "", "\r", "", "\n", "", "\\", "/").Replace(loc)
		assert.True(t, strings.HasPrefix(browser, "/"), "%s redirected to %q", path, loc)
		assert.False(t, strings.HasPrefix(browser, "//"), "%s redirected to %q", path, loc)
		u, err := url.Parse(browser)
		require.NoError(t, err, path)
		assert.Empty(t, u.Host, "%s redirected to %q", path, loc)
	}

	// The ordinary redirect keeps the request's own (encoded) path.
	resp, _ := rawpeer.Request(t, addr, "GET /sub HTTP/1.1\nHost: "+addr+"\nConnection: close\n\n")
	assert.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
	assert.Equal(t, "/sub/", resp.Header.Get("Location"))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "a b%"), 0o755))
	resp, _ = rawpeer.Request(t, addr, "GET /a%20b%25 HTTP/1.1\nHost: "+addr+"\nConnection: close\n\n")
	assert.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
	assert.Equal(t, "/a%20b%25/", resp.Header.Get("Location"))
}
