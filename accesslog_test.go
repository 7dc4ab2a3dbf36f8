package tornago_test

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

func TestAccessLog(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	app, err := tornago.NewApplication([]tornago.Route{
		{Pattern: `/ok`, Handler: fn(func(h *funcHandler, _ ...string) error { return h.Write("ok") })},
		{Pattern: `/redirect`, Handler: fn(func(h *funcHandler, _ ...string) error { return h.Redirect("/ok") })},
		{Pattern: `/fail`, Handler: fn(func(h *funcHandler, _ ...string) error { return tornago.HTTPError{Code: 503} })},
	}, tornago.Settings{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	require.NoError(t, err)
	srv := httptest.NewServer(app)
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, p := range []string{"/ok?q=1", "/redirect", "/missing", "/fail"} {
		resp, err := client.Get(srv.URL + p)
		require.NoError(t, err)
		resp.Body.Close()
	}

	type entry struct {
		Level    string  `json:"level"`
		Msg      string  `json:"msg"`
		Status   int     `json:"status"`
		Method   string  `json:"method"`
		URI      string  `json:"uri"`
		RemoteIP string  `json:"remote_ip"`
		Duration float64 `json:"duration"`
	}
	var entries []entry
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var e entry
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e))
		if e.Status != 0 {
			entries = append(entries, e)
		}
	}
	require.Len(t, entries, 4)
	line := regexp.MustCompile(`^(\d{3}) GET (\S+) \(127\.0\.0\.1\) \d+\.\d\dms$`)
	want := []struct {
		status int
		uri    string
		level  string
	}{{200, "/ok?q=1", "INFO"}, {302, "/redirect", "INFO"}, {404, "/missing", "WARN"}, {503, "/fail", "ERROR"}}
	for i, w := range want {
		e := entries[i]
		m := line.FindStringSubmatch(e.Msg)
		require.NotNil(t, m, e.Msg)
		assert.Equal(t, w.uri, m[2])
		assert.Equal(t, w.status, e.Status)
		assert.Equal(t, w.level, e.Level)
		assert.Equal(t, "GET", e.Method)
		assert.Equal(t, w.uri, e.URI)
		assert.Equal(t, "127.0.0.1", e.RemoteIP)
		assert.Positive(t, e.Duration)
	}
}
