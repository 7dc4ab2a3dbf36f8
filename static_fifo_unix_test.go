//go:build unix

package tornago_test

import (
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

// TestStaticFIFOIsNotAFile puts a named pipe in the static root: opening
// it for reading blocks until a writer comes, which would pin the request
// (an OS thread, a goroutine, two descriptors) forever. It is answered as
// Tornado answers any non-file, 403, and StaticURL leaves it unversioned.
// The client's timeout is the failure signal.
func TestStaticFIFOIsNotAFile(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	require.NoError(t, syscall.Mkfifo(filepath.Join(root, "pipe"), 0o644))
	require.NoError(t, os.Symlink("pipe", filepath.Join(root, "link")))
	ta := newTestApp(t, nil, tornago.Settings{StaticPath: root})
	ta.client.Timeout = 10 * time.Second
	t.Cleanup(func() { // runs before the server closes: frees a reader stuck in open
		if w, err := os.OpenFile(filepath.Join(root, "pipe"), os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	})

	for _, path := range []string{"/static/pipe", "/static/link"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			req, err := http.NewRequest(method, ta.srv.URL+path, nil)
			require.NoError(t, err)
			resp, err := ta.client.Do(req)
			require.NoError(t, err, "%s %s must not hang", method, path)
			resp.Body.Close()
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%s %s", method, path)
		}
	}
	u, err := ta.app.StaticURL("pipe")
	require.NoError(t, err)
	assert.Equal(t, "/static/pipe", u)
}
