package tornago

import (
	"bytes"
	"compress/gzip"
	"strconv"
	"strings"
	"sync"
)

// Response compression (Settings.CompressResponse), Tornado's
// GZipContentEncoding: text/*, JSON, JavaScript, XML and SVG responses to
// clients whose Accept-Encoding mentions gzip are compressed at level 6,
// unless the whole response is finished in one piece smaller than 1 KiB or
// already has a Content-Encoding. Every response gets "Vary:
// Accept-Encoding".

const (
	gzipLevel     = 6
	gzipMinLength = 1024
)

var gzipContentTypes = map[string]bool{
	"application/javascript":   true,
	"application/x-javascript": true,
	"application/xml":          true,
	"application/atom+xml":     true,
	"application/json":         true,
	"application/xhtml+xml":    true,
	"image/svg+xml":            true,
}

// gzipWriter compresses one response, chunk by chunk.
type gzipWriter struct {
	pool *sync.Pool
	buf  bytes.Buffer
	zw   *gzip.Writer
}

// gzipPool hands out gzipWriters; each Application has its own.
func newGzipPool() *sync.Pool {
	p := &sync.Pool{}
	p.New = func() any {
		g := &gzipWriter{pool: p}
		g.zw, _ = gzip.NewWriterLevel(&g.buf, gzipLevel) // the level is valid
		return g
	}
	return p
}

// transform compresses chunk and returns the compressed bytes available so
// far (all of them when finishing).
func (g *gzipWriter) transform(chunk []byte, finishing bool) []byte {
	_, _ = g.zw.Write(chunk) // writes to a bytes.Buffer do not fail
	if finishing {
		_ = g.zw.Close()
	} else {
		_ = g.zw.Flush()
	}
	out := bytes.Clone(g.buf.Bytes())
	g.buf.Reset()
	return out
}

// release returns g to its pool.
func (g *gzipWriter) release() {
	g.buf.Reset()
	g.zw.Reset(&g.buf)
	g.pool.Put(g)
}

// gzipFirstChunk decides whether this response is compressed, adjusts the
// headers, and transforms the first chunk.
func (h *RequestHandler) gzipFirstChunk(chunk []byte, finishing bool) []byte {
	if v := h.header.Get("Vary"); v != "" {
		h.header.Set("Vary", v+", Accept-Encoding")
	} else {
		h.header.Set("Vary", "Accept-Encoding")
	}
	if !strings.Contains(h.request().Header.Get("Accept-Encoding"), "gzip") {
		return chunk
	}
	ctype, _, _ := strings.Cut(h.header.Get("Content-Type"), ";")
	ctype = strings.TrimSpace(ctype)
	compressible := strings.HasPrefix(ctype, "text/") || gzipContentTypes[ctype]
	if !compressible || (finishing && len(chunk) < gzipMinLength) || h.header.Get("Content-Encoding") != "" {
		return chunk
	}
	h.header.Set("Content-Encoding", "gzip")
	h.gzip = h.app.gzipPool.Get().(*gzipWriter)
	chunk = h.gzip.transform(chunk, finishing)
	if h.header.Get("Content-Length") != "" {
		if finishing {
			h.header.Set("Content-Length", strconv.Itoa(len(chunk)))
		} else {
			h.header.Del("Content-Length")
		}
	}
	return chunk
}
