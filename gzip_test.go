package tornago_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

func gunzip(t *testing.T, s string) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(s))
	require.NoError(t, err)
	b, err := io.ReadAll(zr)
	require.NoError(t, err)
	return string(b)
}

func TestCompressResponse(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("tornado and tornago ", 100) // 2000 bytes
	body := func(ctype, content string) tornago.Factory {
		return fn(func(h *funcHandler, _ ...string) error {
			if ctype != "" {
				_ = h.SetHeader("Content-Type", ctype)
			}
			return h.Write(content)
		})
	}
	routes := []tornago.Route{
		{Pattern: `/big`, Handler: body("", big)},
		{Pattern: `/small`, Handler: body("", "tiny")},
		{Pattern: `/json`, Handler: body("application/json", big)},
		{Pattern: `/png`, Handler: body("image/png", big)},
		{Pattern: `/encoded`, Handler: fn(func(h *funcHandler, _ ...string) error {
			_ = h.SetHeader("Content-Encoding", "br")
			_ = h.SetHeader("Vary", "Cookie")
			return h.Write(big)
		})},
		{Pattern: `/stream`, Handler: fn(func(h *funcHandler, _ ...string) error {
			_ = h.Write("tiny first chunk;")
			if err := h.Flush(); err != nil {
				return err
			}
			return h.Write(big)
		})},
	}
	ta := newTestApp(t, routes, tornago.Settings{CompressResponse: true})
	tests := []struct {
		path, accept string
		gzipped      bool
		want         string
		vary         string
	}{
		{"/big", "gzip, deflate", true, big, "Accept-Encoding"},
		{"/big", "identity", false, big, "Accept-Encoding"},
		{"/small", "gzip", false, "tiny", "Accept-Encoding"},
		{"/json", "gzip", true, big, "Accept-Encoding"},
		{"/png", "gzip", false, big, "Accept-Encoding"},
		{"/encoded", "gzip", false, big, "Cookie, Accept-Encoding"},
		{"/stream", "gzip", true, "tiny first chunk;" + big, "Accept-Encoding"},
	}
	for _, tt := range tests {
		resp := ta.get(tt.path, "Accept-Encoding", tt.accept)
		require.Equal(t, 200, resp.StatusCode, tt.path)
		assert.Equal(t, tt.vary, resp.Header.Get("Vary"), tt.path)
		got := resp.Body
		if tt.gzipped {
			assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"), tt.path)
			got = gunzip(t, got)
		} else {
			assert.NotEqual(t, "gzip", resp.Header.Get("Content-Encoding"), tt.path)
		}
		assert.Equal(t, tt.want, got, tt.path)
		if tt.path == "/stream" {
			assert.Equal(t, int64(-1), resp.ContentLength, "streamed: no Content-Length")
		} else {
			assert.Equal(t, strconv.Itoa(len(resp.Body)), resp.Header.Get("Content-Length"), tt.path)
		}
	}

	head := ta.do("HEAD", "/big", "", "Accept-Encoding", "gzip")
	assert.Equal(t, "gzip", head.Header.Get("Content-Encoding"))
	assert.Empty(t, head.Body)
	assert.Less(t, head.ContentLength, int64(len(big)))

	off := newTestApp(t, routes, tornago.Settings{})
	resp := off.get("/big", "Accept-Encoding", "gzip")
	assert.Empty(t, resp.Header.Get("Content-Encoding"))
	assert.Empty(t, resp.Header.Get("Vary"))
	assert.Equal(t, big, resp.Body)
}

func TestCompressStaticFile(t *testing.T) {
	t.Parallel()
	root, files := staticDir(t)
	require.NoError(t, writeFile(root, "page.html", strings.Repeat("<p>para</p>", 200)))
	ta := newTestApp(t, nil, tornago.Settings{StaticPath: root, CompressResponse: true})
	resp := ta.get("/static/page.html", "Accept-Encoding", "gzip")
	assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	assert.Equal(t, strings.Repeat("<p>para</p>", 200), gunzip(t, resp.Body))
	resp = ta.get("/static/big.bin", "Accept-Encoding", "gzip")
	assert.Empty(t, resp.Header.Get("Content-Encoding"), "octet-stream is not compressed")
	assert.True(t, bytes.Equal([]byte(files["big.bin"]), []byte(resp.Body)))
}
