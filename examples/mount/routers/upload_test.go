package routers_test

import (
	"bytes"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

// upload answers with the size of the uploaded file.
type upload struct{ tornago.RequestHandler }

func (h *upload) Post(...string) error {
	files := h.Files("file")
	if len(files) != 1 {
		return tornago.HTTPError{Code: http.StatusBadRequest}
	}
	return h.Write(map[string]int64{"size": files[0].Size})
}

// Both routers hand the handler a request made by r.WithContext, whose
// multipart form net/http does not clean up. Not parallel: it points
// TMPDIR, where multipart files go, at its own directory.
func TestUploadTempFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	app, err := tornago.NewApplication(nil, tornago.Settings{Logger: slog.New(slog.DiscardHandler), MaxFormMemory: 1 << 10})
	require.NoError(t, err)
	handler := app.HandlerFor(func() tornago.Handler { return &upload{} })
	cr := chi.NewRouter()
	cr.Post("/upload", handler.ServeHTTP)
	mr := mux.NewRouter()
	mr.Handle("/upload", handler).Methods(http.MethodPost)

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "big.bin")
	require.NoError(t, err)
	_, err = fw.Write(bytes.Repeat([]byte("x"), 64<<10)) // far over MaxFormMemory: stored in a file
	require.NoError(t, err)
	require.NoError(t, mw.Close())

	for _, tt := range []struct {
		name   string
		router http.Handler
	}{{"chi", cr}, {"gorilla/mux", mr}} {
		done := make(chan struct{}, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() { done <- struct{}{} }()
			tt.router.ServeHTTP(w, r)
		}))
		resp, err := srv.Client().Post(srv.URL+"/upload", mw.FormDataContentType(), bytes.NewReader(body.Bytes()))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, tt.name)
		<-done // the router has returned
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.Empty(t, entries, tt.name+": temporary files left behind")
		srv.Close()
	}
}
