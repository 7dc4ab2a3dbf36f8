package tornago_test

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
)

type Paging struct {
	Page int `form:"page" validate:"gte=1"`
}

type signup struct {
	Paging
	Name    string        `form:"name" json:"name" validate:"required"`
	Email   string        `form:"email" json:"email" validate:"required,email"`
	Age     int           `form:"age" json:"age" validate:"gte=18"`
	Tags    []string      `form:"tag" json:"tags" validate:"max=3"`
	Admin   bool          `form:"admin" json:"admin"`
	Ratio   *float64      `form:"ratio" json:"ratio"`
	Timeout time.Duration `form:"timeout" json:"timeout"`
	Room    string        `form:"room" json:"room"`
	Ignored string        `form:"-" json:"-"`
}

func bindApp(t *testing.T) *testApp {
	return newTestApp(t, route(`/bind/(?P<room>\w+)`, fn(func(h *funcHandler, _ ...string) error {
		var s signup
		if err := h.Bind(&s); err != nil {
			return err
		}
		return h.Write(s)
	})), tornago.Settings{})
}

func TestBindArguments(t *testing.T) {
	t.Parallel()
	ta := bindApp(t)
	form := url.Values{"name": {" Ann "}, "email": {"ann@example.com"}, "age": {"30"}, "tag": {"a", "b"},
		"admin": {"on"}, "ratio": {"0.5"}, "timeout": {"1.5s"}, "page": {"2"}, "room": {"spoofed"}, "Ignored": {"x"}}
	resp := ta.postForm("/bind/lobby", form)
	require.Equal(t, 200, resp.StatusCode, resp.Body)
	assert.JSONEq(t, `{"Page":2,"name":"Ann","email":"ann@example.com","age":30,"tags":["a","b"],
		"admin":true,"ratio":0.5,"timeout":1500000000,"room":"lobby"}`, resp.Body,
		"the path group wins over a same-named argument")
}

func TestBindValidationErrors(t *testing.T) {
	t.Parallel()
	ta := bindApp(t)
	tests := []struct {
		name string
		resp func() response
		want string
	}{
		{"failed rules", func() response {
			return ta.get("/bind/x?name=&email=nope&age=12&page=1&tag=1&tag=2&tag=3&tag=4")
		}, `{"code":400,"message":"validation failed","fields":[
			{"field":"name","rule":"required","message":"name is required"},
			{"field":"email","rule":"email","message":"email must be a valid email address"},
			{"field":"age","rule":"gte","param":"18","message":"age must be at least 18"},
			{"field":"tag","rule":"max","param":"3","message":"tag must be at most 3"}]}`},
		{"embedded struct field", func() response {
			return ta.get("/bind/x?name=a&email=a@b.co&age=20&page=0")
		}, `{"code":400,"message":"validation failed","fields":[
			{"field":"page","rule":"gte","param":"1","message":"page must be at least 1"}]}`},
		{"type errors", func() response {
			return ta.get("/bind/x?age=old&ratio=half&admin=maybe&timeout=soon")
		}, `{"code":400,"message":"validation failed","fields":[
			{"field":"age","rule":"type","message":"age must be an integer"},
			{"field":"admin","rule":"type","message":"admin must be a boolean"},
			{"field":"ratio","rule":"type","message":"ratio must be a number"},
			{"field":"timeout","rule":"type","message":"timeout must be a duration"}]}`},
		{"json rules", func() response {
			return ta.do("POST", "/bind/x", `{"name":"A","email":"a@b.co","age":3,"page":1}`,
				"Content-Type", "application/json")
		}, `{"code":400,"message":"validation failed","fields":[
			{"field":"age","rule":"gte","param":"18","message":"age must be at least 18"}]}`},
		{"json type", func() response {
			return ta.do("POST", "/bind/x", `{"age":"old"}`, "Content-Type", "application/json")
		}, `{"code":400,"message":"validation failed","fields":[
			{"field":"age","rule":"type","message":"age must be an integer"}]}`},
		{"json syntax", func() response {
			return ta.do("POST", "/bind/x", `{"age":`, "Content-Type", "application/json; charset=utf-8")
		}, `{"code":400,"message":"invalid JSON body: unexpected EOF","fields":[]}`},
	}
	for _, tt := range tests {
		resp := tt.resp()
		assert.Equal(t, 400, resp.StatusCode, tt.name)
		assert.Equal(t, "application/json; charset=UTF-8", resp.Header.Get("Content-Type"), tt.name)
		assert.JSONEq(t, tt.want, resp.Body, tt.name)
	}
	assert.NotContains(t, ta.logs.String(), "level=ERROR", "validation failures are client errors")
}

func TestBindJSON(t *testing.T) {
	t.Parallel()
	ta := bindApp(t)
	resp := ta.do("POST", "/bind/x", `{"name":"A","email":"a@b.co","age":40,"tags":["x"],"Page":3,"ratio":2}`,
		"Content-Type", "application/json")
	require.Equal(t, 200, resp.StatusCode, resp.Body)
	assert.JSONEq(t, `{"Page":3,"name":"A","email":"a@b.co","age":40,"tags":["x"],"admin":false,
		"ratio":2,"timeout":0,"room":""}`, resp.Body)
}

func TestBindTargetMustBeStructPointer(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		var s signup
		return h.Bind(s)
	})), tornago.Settings{})
	assert.Equal(t, 500, ta.get("/").StatusCode, "a programming error, not a client error")
}

func TestBindCustomValidation(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		var s struct {
			Color string `form:"color" validate:"primary"`
		}
		if err := h.Bind(&s); err != nil {
			return err
		}
		return h.Write(s.Color)
	})), tornago.Settings{})
	require.NoError(t, ta.app.RegisterValidation("primary", func(v reflect.Value, _ string) bool {
		return v.String() == "red"
	}))
	require.NoError(t, ta.app.RegisterValidation("prefix", func(v reflect.Value, param string) bool {
		return strings.HasPrefix(v.String(), param)
	}))
	require.Error(t, ta.app.RegisterValidation("nil", nil))
	resp := ta.get("/?color=blue")
	assert.Equal(t, 400, resp.StatusCode)
	assert.JSONEq(t, `{"code":400,"message":"validation failed","fields":[
		{"field":"color","rule":"primary","message":"color fails the primary rule"}]}`, resp.Body)
	assert.Equal(t, "red", ta.get("/?color=red").Body)

	ta = newTestApp(t, route(`/`, fn(func(h *funcHandler, _ ...string) error {
		var s struct {
			Code string `form:"code" validate:"prefix=ab"`
		}
		if err := h.Bind(&s); err != nil {
			return err
		}
		return h.Write(s.Code)
	})), tornago.Settings{})
	require.NoError(t, ta.app.RegisterValidation("prefix", func(v reflect.Value, param string) bool {
		return strings.HasPrefix(v.String(), param)
	}))
	assert.Equal(t, 400, ta.get("/?code=xy").StatusCode, "the rule gets its parameter")
	assert.Equal(t, "abc", ta.get("/?code=abc").Body)
}
