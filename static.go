package tornago

import (
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// StaticFileHandler serves the files under a directory, as Tornado's: the
// route's first group is the file's path below Path. It answers with ETag
// (the SHA-512 of the content), Last-Modified and Accept-Ranges, honours
// If-None-Match / If-Modified-Since (304) and single byte ranges (206; 416
// when unsatisfiable), and refuses paths that leave Path with 403 — also
// through symbolic links, which Tornado follows. Requests whose query has a
// "v" argument (from StaticURL) are marked cacheable for ten years.
//
// NewApplication serves Settings.StaticPath with it; route more directories
// yourself:
//
//	{Pattern: `/content/(.*)`, Handler: tornago.StaticFiles("/var/www")}
type StaticFileHandler struct {
	RequestHandler
	// Path is the root directory; empty means Settings.StaticPath.
	Path string
	// DefaultFilename, if set, is served for a directory (Tornado's
	// default_filename, e.g. "index.html"); a directory URL without a
	// trailing slash is redirected (301) to one with it.
	DefaultFilename string
}

// StaticFiles returns a Factory of StaticFileHandlers serving root.
func StaticFiles(root string) Factory {
	return func() Handler { return &StaticFileHandler{Path: root} }
}

const (
	staticCacheMaxAge = 10 * 365 * 24 * time.Hour // Tornado's CACHE_MAX_AGE
	staticChunkSize   = 64 << 10
)

// Get serves the file named by the first path argument.
func (h *StaticFileHandler) Get(args ...string) error { return h.serve(firstArg(args), true) }

// Head answers as Get would, without reading the file's content.
func (h *StaticFileHandler) Head(args ...string) error { return h.serve(firstArg(args), false) }

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

func (h *StaticFileHandler) serve(path string, includeBody bool) error {
	root := h.Path
	if root == "" {
		root = h.app.settings.StaticPath
	}
	f, info, key, err := h.open(root, path)
	if err != nil || f == nil {
		return err
	}
	defer f.Close()

	version, err := h.app.fileVersion(key, f, info)
	if err != nil {
		return fmt.Errorf("tornago: reading static file %s: %w", path, err)
	}
	modified := info.ModTime().UTC().Truncate(time.Second)
	h.header.Set("Accept-Ranges", "bytes")
	h.header.Set("Etag", `"`+version+`"`)
	h.header.Set("Last-Modified", modified.Format(http.TimeFormat))
	h.header.Set("Content-Type", staticContentType(info.Name()))
	if _, ok := h.queryArgs()["v"]; ok {
		h.header.Set("Expires", time.Now().Add(staticCacheMaxAge).UTC().Format(http.TimeFormat))
		h.header.Set("Cache-Control", "max-age="+strconv.Itoa(int(staticCacheMaxAge/time.Second)))
	}
	if h.notModified(modified) {
		h.SetStatus(http.StatusNotModified)
		return nil
	}

	size := info.Size()
	start, end := int64(0), size
	if rng, ok := parseRange(h.request().Header.Get("Range")); ok {
		s, e, satisfiable := rng.resolve(size)
		if !satisfiable {
			h.SetStatus(http.StatusRequestedRangeNotSatisfiable)
			h.header.Set("Content-Type", "text/plain")
			h.header.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			return nil
		}
		if e-s != size { // a 206 for "bytes=0-" would upset Chrome's audio
			h.SetStatus(http.StatusPartialContent)
			h.header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", s, e-1, size))
		}
		start, end = s, e
	}
	h.header.Set("Content-Length", strconv.FormatInt(end-start, 10))
	if !includeBody {
		return nil
	}
	r := io.NewSectionReader(f, start, end-start)
	chunk := make([]byte, staticChunkSize)
	for {
		n, err := io.ReadFull(r, chunk)
		if n > 0 {
			h.buf = append(h.buf, chunk[:n]...)
			if ferr := h.Flush(); ferr != nil {
				return nil // the client went away; nothing more to say
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tornago: reading static file %s: %w", path, err)
		}
	}
}

// open resolves path below root, with Tornado's checks: 403 outside root or
// for a non-file, 404 when missing, the DefaultFilename redirect for a
// directory. It returns the file, its info and its absolute path (the
// version cache key). A nil file and nil error mean the response was sent.
func (h *StaticFileHandler) open(root, path string) (*os.File, fs.FileInfo, string, error) {
	rootAbs, err := filepath.Abs(root)
	if err != nil {
		return nil, nil, "", fmt.Errorf("tornago: static root %s: %w", root, err)
	}
	abs, rel, ok := below(rootAbs, path)
	if !ok {
		return nil, nil, "", HTTPError{Code: http.StatusForbidden, Message: path + " is not in root static directory"}
	}
	if info, err := os.Stat(abs); err == nil && info.IsDir() && h.DefaultFilename != "" {
		// Tornado redirects to request.path + "/", the path as the client
		// sent it: the decoded path could hold "\" or "%2F" turned into a
		// host a browser would follow ("/\evil.example/").
		if raw := h.request().URL.EscapedPath(); !strings.HasSuffix(raw, "/") {
			if leavesHost(raw) {
				return nil, nil, "", HTTPError{Code: http.StatusForbidden, Message: "cannot redirect path with two initial slashes"}
			}
			return nil, nil, "", h.RedirectStatus(raw+"/", http.StatusMovedPermanently)
		}
		rel = filepath.Join(rel, h.DefaultFilename)
		abs = filepath.Join(abs, h.DefaultFilename)
	}
	f, info, err := openBelow(rootAbs, rel)
	if err != nil {
		return nil, nil, "", openError(path, err)
	}
	return f, info, abs, nil
}

// leavesHost reports whether a browser would read the path-only URL path
// as naming another host: after the WHATWG URL parser's clean-up (leading
// spaces and control characters trimmed, tabs and newlines dropped, "\"
// read as "/") it starts with "//". EscapedPath never yields those
// characters unescaped; this is the last guard on the Location header.
func leavesHost(path string) bool {
	path = strings.TrimLeftFunc(path, func(r rune) bool { return r <= ' ' })
	path = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(path)
	return strings.HasPrefix(path, "//")
}

// openError maps a failure to open a static file to 404 (missing) or 403
// (anything else: not a regular file, a symbolic link out of the root).
func openError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return HTTPError{Code: http.StatusNotFound, Err: err}
	}
	return HTTPError{Code: http.StatusForbidden, Message: path + ": " + err.Error(), Err: err}
}

// notModified is Tornado's should_return_304: If-None-Match if present,
// else If-Modified-Since.
func (h *StaticFileHandler) notModified(modified time.Time) bool {
	if inm := h.request().Header.Get("If-None-Match"); inm != "" {
		return etagMatches(inm, h.header.Get("Etag"))
	}
	if ims := h.request().Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil {
			return !t.Before(modified)
		}
	}
	return false
}

// staticContentType is Tornado's get_content_type: by extension, with
// compressed files as application/gzip or application/octet-stream.
func staticContentType(name string) string {
	ext := strings.ToLower(filepath.Ext(name))
	switch ext {
	case ".gz":
		return "application/gzip"
	case ".bz2", ".xz", ".br", ".z":
		return "application/octet-stream"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// byteRange is a parsed Range header, Tornado's _parse_request_range:
// start/end are slice indexes; hasStart/hasEnd tell which were given.
// Values beyond int64 are saturated (pyInt), so no arithmetic here can wrap.
type byteRange struct {
	start, end       int64
	hasStart, hasEnd bool
}

// parseRange parses a single "bytes=" range; ok is false for anything else,
// which is then ignored (the whole file is sent), as RFC 9110 allows.
func parseRange(s string) (r byteRange, ok bool) {
	unit, value, _ := strings.Cut(s, "=")
	if pyStrip(unit) != "bytes" {
		return r, false
	}
	startS, endS, _ := strings.Cut(pyStrip(value), "-")
	if r.start, r.hasStart, ok = pyInt(startS); !ok {
		return r, false
	}
	if r.end, r.hasEnd, ok = pyInt(endS); !ok {
		return r, false
	}
	if r.hasEnd {
		if !r.hasStart {
			if r.end != 0 { // "bytes=-N": the last N bytes
				r.start, r.hasStart = -r.end, true // pyInt never yields MinInt64
				r.end, r.hasEnd = 0, false
			}
		} else if r.end < math.MaxInt64 {
			r.end++ // inclusive to exclusive; MaxInt64 is past any file's end already
		}
	}
	return r, true
}

// pyStrip trims what Python's str.strip removes from a header value that
// Tornado decoded as Latin-1: ASCII white space, \x1c-\x1f, NEL and NBSP.
func pyStrip(s string) string {
	isSpace := func(c byte) bool {
		return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f) || c == 0x85 || c == 0xa0
	}
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// pyInt is Tornado's _int_or_none: empty (after stripping) is absent, else
// Python's int(): an optional sign and decimal digits, single underscores
// allowed between digits. Numbers beyond int64 saturate at its bounds,
// which changes no outcome: Range only compares them with a file's size.
func pyInt(s string) (n int64, present, ok bool) {
	s = pyStrip(s)
	if s == "" {
		return 0, false, true
	}
	neg := s[0] == '-'
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	if s == "" {
		return 0, true, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' && i > 0 && i+1 < len(s) && s[i-1] != '_' {
			continue
		}
		if c < '0' || c > '9' {
			return 0, true, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			n = math.MaxInt64
		} else {
			n = n*10 + d
		}
	}
	if neg {
		n = -n // -MaxInt64 at worst: MinInt64 is never produced
	}
	return n, true, true
}

// resolve turns r into [start, end) within size, as Tornado's
// StaticFileHandler.get; satisfiable is false for a 416. An end past the
// file is clipped to it, as Tornado does for clients that ask for a huge
// range to cap their download.
func (r byteRange) resolve(size int64) (start, end int64, satisfiable bool) {
	start, end = 0, size
	if r.hasStart {
		start = r.start
		if start < 0 {
			start = max(start+size, 0)
		}
	}
	if r.hasEnd {
		end = r.end
	}
	if (r.hasStart && (start >= size || (r.hasEnd && start >= end))) || (r.hasEnd && r.end == 0) {
		return 0, 0, false
	}
	end = min(end, size)
	return start, end, true
}

// staticHashes caches content versions per absolute path (Tornado's
// _static_hashes, here per Application); an entry is reused only while the
// file's size and modification time are unchanged.
type staticHashes struct {
	mu sync.Mutex
	m  map[string]staticHash
}

type staticHash struct {
	size    int64
	modTime time.Time
	version string
}

// fileVersion returns the content version of f (opened from the absolute
// path key): Tornado's get_content_version, the hex SHA-512 of the content.
// f's offset is not used.
func (a *Application) fileVersion(key string, f *os.File, info fs.FileInfo) (string, error) {
	if !a.settings.Debug {
		a.hashes.mu.Lock()
		e, ok := a.hashes.m[key]
		a.hashes.mu.Unlock()
		if ok && e.size == info.Size() && e.modTime.Equal(info.ModTime()) {
			return e.version, nil
		}
	}
	hash := sha512.New()
	if _, err := io.Copy(hash, io.NewSectionReader(f, 0, info.Size())); err != nil {
		return "", err
	}
	v := hex.EncodeToString(hash.Sum(nil))
	a.hashes.mu.Lock()
	a.hashes.m[key] = staticHash{size: info.Size(), modTime: info.ModTime(), version: v}
	a.hashes.mu.Unlock()
	return v, nil
}

// staticVersion returns the version of the file at path below StaticPath,
// "" when it cannot be read (logged, as Tornado does) or lies outside.
func (a *Application) staticVersion(path string) string {
	rootAbs, err := filepath.Abs(a.settings.StaticPath)
	if err != nil {
		a.logger.Error("could not resolve static path", "path", a.settings.StaticPath, "error", err)
		return ""
	}
	abs, rel, ok := below(rootAbs, path)
	if !ok {
		return ""
	}
	f, info, err := openBelow(rootAbs, rel)
	if err != nil {
		a.logger.Error("could not open static file", "path", path, "error", err)
		return ""
	}
	defer f.Close()
	v, err := a.fileVersion(abs, f, info)
	if err != nil {
		a.logger.Error("could not read static file", "path", path, "error", err)
	}
	return v
}

// below resolves the slash-separated path under rootAbs, returning the
// absolute and relative file paths; ok is false when path leaves rootAbs.
func below(rootAbs, path string) (abs, rel string, ok bool) {
	abs = filepath.Join(rootAbs, filepath.FromSlash(path))
	rel, err := filepath.Rel(rootAbs, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", "", false
	}
	return abs, rel, true
}

// openBelow opens the regular file rel below the directory rootAbs, refusing
// to leave it (also through symbolic links). Anything but a regular file is
// refused before it is opened, as Tornado's isfile check: opening a named
// pipe would block until a writer comes. The open is non-blocking where the
// platform has it (staticOpenFlags) and the opened file is checked again, so
// a pipe swapped in between the two cannot hold the request either.
func openBelow(rootAbs, rel string) (*os.File, fs.FileInfo, error) {
	root, err := os.OpenRoot(rootAbs)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	info, err := root.Stat(rel)
	if err != nil {
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w: %s", errNotAFile, rel)
	}
	f, err := root.OpenFile(rel, staticOpenFlags, 0)
	if err != nil {
		return nil, nil, err
	}
	if info, err = f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%w: %s", errNotAFile, rel)
		}
		return nil, nil, err
	}
	return f, info, nil
}

// errNotAFile refuses a static path that is a directory, pipe, device or
// socket (403, Tornado's "%s is not a file").
var errNotAFile = errors.New("not a regular file")

// StaticURL returns the URL of the file at path below Settings.StaticPath:
// StaticURLPrefix + path + "?v=" + the SHA-512 of its content, so the URL
// changes when the file does and can be cached forever. The version is
// computed once per file (on every call in Debug mode) and left out when
// the file cannot be read.
func (a *Application) StaticURL(path string) (string, error) {
	if a.settings.StaticPath == "" {
		return "", fmt.Errorf("%w: StaticPath (for StaticURL)", ErrMissingSetting)
	}
	u := a.settings.StaticURLPrefix + path
	if v := a.staticVersion(path); v != "" {
		u += "?v=" + v
	}
	return u, nil
}

// StaticURL is Application.StaticURL (Tornado's static_url).
func (h *RequestHandler) StaticURL(path string) (string, error) { return h.app.StaticURL(path) }
