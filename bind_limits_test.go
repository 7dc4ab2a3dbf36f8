package tornago_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

type counts struct {
	N []int `json:"n" form:"n" validate:"dive,min=0"`
}

// countsApp binds counts from /bind, behind withContext.
func countsApp(t *testing.T, settings tornago.Settings) (*testApp, <-chan served) {
	return wrappedApp(t, route(`/bind`, fn(func(h *funcHandler, _ ...string) error {
		var c counts
		if err := h.Bind(&c); err != nil {
			return err
		}
		return h.Write(map[string]int{"n": len(c.N)})
	})), settings)
}

// negatives is a JSON array of n negative integers.
func negatives(n int) string {
	return "[" + strings.TrimSuffix(strings.Repeat("-1,", n), ",") + "]"
}

func TestBindJSONHugeInvalidArray(t *testing.T) {
	t.Parallel()
	ta, done := countsApp(t, tornago.Settings{})
	body := `{"n":` + negatives(1_000_000) + `}`
	resp := ta.do("POST", "/bind", body, "Content-Type", "application/json")
	<-done
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Less(t, len(resp.Body), 1<<10, "the response grows with the input")
}

func TestBindFieldErrorsCapped(t *testing.T) {
	t.Parallel()
	ta, done := countsApp(t, tornago.Settings{})
	for name, resp := range map[string]func() response{
		"JSON": func() response {
			return ta.do("POST", "/bind", `{"n":`+negatives(500)+`}`, "Content-Type", "application/json")
		},
		"arguments": func() response { return ta.get("/bind?" + strings.Repeat("n=-1&", 500)) },
	} {
		r := resp()
		<-done
		require.Equal(t, 400, r.StatusCode, name)
		var got struct {
			Fields  []tornago.FieldError `json:"fields"`
			Omitted int                  `json:"omitted"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.Body), &got), name)
		assert.Len(t, got.Fields, tornago.DefaultMaxFieldErrors, name)
		assert.Equal(t, 500-tornago.DefaultMaxFieldErrors, got.Omitted, name)
		assert.Equal(t, "n[0] must be at least 0", got.Fields[0].Message, name)
	}
	assert.Contains(t, ta.logs.String(), "(and 400 more)")
}

func TestBindJSONBody(t *testing.T) {
	t.Parallel()
	ta, done := countsApp(t, tornago.Settings{MaxJSONElements: 3})
	tests := []struct {
		name, body string
		status     int
	}{
		{"at the element limit", `{"n":[1,2]}`, 200},
		{"over the element limit", `{"n":[1,2,3]}`, 413},
		{"nested over the limit", `{"n":[],"x":[[1],{"a":1}]}`, 413},
		{"brackets and commas in strings", `{"x":"[,,{,,]\"[,,"}`, 200},
		{"empty containers", `{"n":[],"x":{}}`, 200},
		{"empty body", ``, 200},
		{"a second value", `{"n":[1]} {}`, 400},
		{"trailing garbage", `{"n":[1]}garbage`, 400},
		{"keys match case-insensitively (encoding/json)", `{"N":[1,2]}`, 200},
	}
	for _, tt := range tests {
		resp := ta.do("POST", "/bind", tt.body, "Content-Type", "application/json")
		<-done
		assert.Equal(t, tt.status, resp.StatusCode, tt.name+": "+resp.Body)
	}
}
