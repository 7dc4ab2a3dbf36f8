package tornago_test

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

// argsApp echoes arguments read in various ways as JSON.
func argsApp(t *testing.T, settings tornago.Settings) *testApp {
	return newTestApp(t, []tornago.Route{
		{Pattern: `/arg`, Handler: fn(func(h *funcHandler, _ ...string) error {
			v, err := h.GetArgument("a")
			if err != nil {
				return err
			}
			return h.Write(map[string]string{"a": v})
		})},
		{Pattern: `/args`, Handler: fn(func(h *funcHandler, _ ...string) error {
			all, err := h.GetArguments("a")
			if err != nil {
				return err
			}
			q, _ := h.GetQueryArguments("a")
			b, _ := h.GetBodyArguments("a")
			qa, _ := h.GetQueryArgument("a", tornago.Default("-"))
			ba, _ := h.GetBodyArgument("a", tornago.Default("-"))
			raw, _ := h.GetArgument("a", tornago.NoStrip(), tornago.Default("-"))
			def, _ := h.GetArgument("missing", tornago.Default("dflt"))
			return h.Write(map[string]any{"all": all, "query": q, "body": b, "q": qa, "b": ba, "raw": raw, "def": def})
		})},
		{Pattern: `/missing`, Handler: fn(func(h *funcHandler, _ ...string) error {
			_, err := h.GetArgument("name")
			var mae *tornago.MissingArgumentError
			require.True(t, errors.As(err, &mae))
			assert.Equal(t, "name", mae.Name)
			return err
		})},
	}, settings)
}

func TestGetArgument(t *testing.T) {
	t.Parallel()
	ta := argsApp(t, tornago.Settings{})
	tests := []struct {
		name, query string
		body        url.Values
		want        string
	}{
		{"last query value wins", "a=1&a=2", nil, `{"all":["1","2"],"query":["1","2"],"body":null,"q":"2","b":"-","raw":"2","def":"dflt"}`},
		{"body after query", "a=q", url.Values{"a": {"b1", "b2"}}, `{"all":["q","b1","b2"],"query":["q"],"body":["b1","b2"],"q":"q","b":"b2","raw":"b2","def":"dflt"}`},
		{"strip", "a=%20%20x%20%09", nil, `{"all":["x"],"query":["x"],"body":null,"q":"x","b":"-","raw":"  x \t","def":"dflt"}`},
		{"control chars become spaces", "a=x%00y%1Fz%08", nil, `{"all":["x y z"],"query":["x y z"],"body":null,"q":"x y z","b":"-","raw":"x y z ","def":"dflt"}`},
		{"tab newline kept inside", "a=x%09y%0Az", nil, `{"all":["x\ty\nz"],"query":["x\ty\nz"],"body":null,"q":"x\ty\nz","b":"-","raw":"x\ty\nz","def":"dflt"}`},
		{"blank values kept", "a=", nil, `{"all":[""],"query":[""],"body":null,"q":"","b":"-","raw":"","def":"dflt"}`},
		{"absent", "", nil, `{"all":null,"query":null,"body":null,"q":"-","b":"-","raw":"-","def":"dflt"}`},
	}
	for _, tt := range tests {
		var resp response
		if tt.body != nil {
			resp = ta.postForm("/args?"+tt.query, tt.body)
		} else {
			resp = ta.get("/args?" + tt.query)
		}
		require.Equal(t, 200, resp.StatusCode, tt.name)
		assert.JSONEq(t, tt.want, resp.Body, tt.name)
	}
}

func TestMissingArgument(t *testing.T) {
	t.Parallel()
	ta := argsApp(t, tornago.Settings{})
	resp := ta.get("/missing")
	assert.Equal(t, 400, resp.StatusCode)
	assert.Equal(t, errorPage("400", "Bad Request"), resp.Body)
	assert.Contains(t, ta.logs.String(), "400 GET /missing (127.0.0.1): Missing argument name")

	debug := argsApp(t, tornago.Settings{Debug: true})
	resp = debug.get("/missing")
	assert.Equal(t, 400, resp.StatusCode)
	assert.Contains(t, resp.Body, "Missing argument name")
}

func TestArgumentInvalidUTF8(t *testing.T) {
	t.Parallel()
	ta := argsApp(t, tornago.Settings{Debug: true})
	resp := ta.get("/arg?a=%FF%FE")
	assert.Equal(t, 400, resp.StatusCode)
	assert.Contains(t, resp.Body, "Invalid unicode in a")
}

func TestMultipartArguments(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/up`, fn(func(h *funcHandler, _ ...string) error {
		title, err := h.GetBodyArgument("title")
		if err != nil {
			return err
		}
		files := h.Files("file")
		require.Len(t, files, 1)
		f, err := files[0].Open()
		require.NoError(t, err)
		defer f.Close()
		content, err := io.ReadAll(f)
		require.NoError(t, err)
		return h.Write(map[string]string{"title": title, "name": files[0].Filename, "content": string(content)})
	})), tornago.Settings{})
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("title", " hello "))
	fw, err := mw.CreateFormFile("file", "a.txt")
	require.NoError(t, err)
	_, _ = fw.Write([]byte("file content"))
	require.NoError(t, mw.Close())
	resp := ta.do("POST", "/up", body.String(), "Content-Type", mw.FormDataContentType())
	require.Equal(t, 200, resp.StatusCode, resp.Body)
	assert.JSONEq(t, `{"title":"hello","name":"a.txt","content":"file content"}`, resp.Body)
}

func TestBodyErrors(t *testing.T) {
	t.Parallel()
	ta := argsApp(t, tornago.Settings{MaxBodySize: 100})
	resp := ta.postForm("/arg", url.Values{"a": {strings.Repeat("x", 200)}})
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Equal(t, errorPage("413", "Request Entity Too Large"), resp.Body)

	resp = ta.do("POST", "/arg", "--x\r\nbroken", "Content-Type", "multipart/form-data; boundary=x")
	assert.Equal(t, 400, resp.StatusCode)
	resp = ta.do("POST", "/arg", "a=1", "Content-Type", "multipart/form-data")
	assert.Equal(t, 400, resp.StatusCode)

	resp = ta.do("POST", "/arg", "a=1", "Content-Type", "text/plain")
	assert.Equal(t, 400, resp.StatusCode, "a non-form body gives no arguments")
	resp = ta.postForm("/arg", url.Values{"a": {"1"}})
	assert.Equal(t, 200, resp.StatusCode)
	assert.JSONEq(t, `{"a":"1"}`, resp.Body)
}
