package tornago

import (
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"
)

// HandlerError is the error NewApplication returns, and HandlerFor panics
// with, for a route whose handler could not serve a single request: a
// method named like a hook (Get, Open, Prepare, WriteError, ...) with
// another signature than the one the Application calls (Go would let it
// compile, and the method would be ignored or fail on every request), an
// embedded *RequestHandler or *WebSocketHandler the factory leaves nil, or
// a factory that returns nil or panics. The interfaces of hooks.go give
// each expected signature.
type HandlerError struct {
	Route   string // the route's Pattern, "Settings.DefaultHandler" or "HandlerFor"
	Type    string // the handler's type, as %T prints it ("*main.X"); "" if the factory made none
	Method  string // the method with the wrong signature, "" for a problem with the type itself
	Found   string // Method's signature ("func() error")
	Want    string // the signature the Application calls ("func(...string) error")
	Problem string // when Method is "": what is wrong and how to fix it
	Err     error  // the factory's panic (a *PanicError), if it panicked
}

// Error names the route, the type, the method, and both signatures, e.g.
// `tornago: route "/x": (*main.X).Get has signature func() error; want
// func(...string) error (the GetMethod interface)`.
func (e *HandlerError) Error() string {
	prefix := "tornago: " + e.Route + ": "
	if e.Route != "HandlerFor" && e.Route != "Settings.DefaultHandler" {
		prefix = fmt.Sprintf("tornago: route %q: ", e.Route)
	}
	if e.Method == "" {
		return prefix + e.Problem
	}
	return fmt.Sprintf("%s(%s).%s has signature %s; want %s", prefix, e.Type, e.Method, e.Found, e.Want)
}

// Unwrap returns the factory's panic, if any.
func (e *HandlerError) Unwrap() error { return e.Err }

// CheckHandler reports whether f's handlers can serve: it calls f once and
// inspects the handler's type as NewApplication does for every route
// (HandlerError lists what it refuses). Use it in a test of a factory that
// is mounted some other way.
func CheckHandler(f Factory) error { return checkFactory("HandlerFor", f) }

// hookSpec is one method the Application calls, by name, with the
// signature it calls it with.
type hookSpec struct {
	name string
	want reflect.Type
}

// asWritten is signature t as a handler's author writes it: Message is
// the core's websocket.Message under the name tornago exports it by.
func asWritten(t reflect.Type) string {
	return strings.ReplaceAll(t.String(), "websocket.Message", "tornago.Message")
}

// hooksOf lists the exported methods of the interfaces ifaces (hooks.go).
func hooksOf(ifaces ...reflect.Type) []hookSpec {
	var specs []hookSpec
	for _, t := range ifaces {
		for m := range t.Methods() {
			if m.IsExported() {
				specs = append(specs, hookSpec{m.Name, m.Type})
			}
		}
	}
	return specs
}

var (
	// verbHooks are looked for on HTTP handlers.
	verbHooks = hooksOf(reflect.TypeFor[GetMethod](), reflect.TypeFor[HeadMethod](),
		reflect.TypeFor[PostMethod](), reflect.TypeFor[PutMethod](), reflect.TypeFor[DeleteMethod](),
		reflect.TypeFor[PatchMethod](), reflect.TypeFor[OptionsMethod]())
	// commonHooks are looked for on every handler.
	commonHooks = hooksOf(reflect.TypeFor[Initializer](), reflect.TypeFor[Preparer](),
		reflect.TypeFor[OnFinisher](), reflect.TypeFor[DefaultHeadersSetter](), reflect.TypeFor[ErrorWriter](),
		reflect.TypeFor[XSRFCookieChecker](), reflect.TypeFor[EtagComputer](), reflect.TypeFor[LoginURLGetter](),
		reflect.TypeFor[CurrentUserGetter]())
	// webSocketHookSpecs are looked for on WebSocket handlers.
	webSocketHookSpecs = hooksOf(reflect.TypeFor[WebSocketHooks]())
)

// checkFactory calls f once and returns a *HandlerError if the handler it
// makes could not serve, nil if it can.
func checkFactory(route string, f Factory) error {
	h, err := callFactory(f)
	if err != nil {
		return &HandlerError{Route: route, Problem: "the factory panicked: " + err.Error(), Err: err}
	}
	if isNil(h) {
		return &HandlerError{Route: route, Problem: "the factory returned nil"}
	}
	t := reflect.TypeOf(h)
	if field, ok := nilEmbeddedBase(reflect.ValueOf(h), maxEmbedDepth); ok {
		return &HandlerError{Route: route, Type: t.String(), Problem: fmt.Sprintf(
			"%s embeds %s by pointer and the factory leaves it nil; embed tornago.%s by value",
			t, field.Type, field.Type.Elem().Name())}
	}
	specs := commonHooks
	if _, ok := h.(webSocketServer); ok {
		specs = append(specs[:len(specs):len(specs)], webSocketHookSpecs...)
	} else {
		specs = append(specs[:len(specs):len(specs)], verbHooks...)
	}
	for _, s := range specs {
		m, ok := t.MethodByName(s.name)
		if !ok {
			continue
		}
		// m.Type has the receiver as its first argument; the bound
		// method's type is the signature as written.
		if found := reflect.ValueOf(h).Method(m.Index).Type(); found != s.want {
			return &HandlerError{Route: route, Type: t.String(), Method: s.name,
				Found: found.String(), Want: asWritten(s.want)}
		}
	}
	return nil
}

// callFactory calls f, turning a panic into a *PanicError.
func callFactory(f Factory) (h Handler, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return f(), nil
}

// baseTypes are the structs a handler must embed, which must not be nil.
var baseTypes = map[reflect.Type]bool{
	reflect.TypeFor[*RequestHandler]():   true,
	reflect.TypeFor[*WebSocketHandler](): true,
}

// maxEmbedDepth bounds nilEmbeddedBase's walk, which a struct embedding a
// pointer to itself would make endless.
const maxEmbedDepth = 8

// nilEmbeddedBase finds a nil *RequestHandler or *WebSocketHandler among
// the embedded fields of the struct v points to (following embedded
// structs and non-nil embedded pointers, depth levels down).
func nilEmbeddedBase(v reflect.Value, depth int) (reflect.StructField, bool) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.StructField{}, false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct || depth == 0 {
		return reflect.StructField{}, false
	}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.Anonymous {
			continue
		}
		fv := v.Field(i)
		if baseTypes[f.Type] && fv.IsNil() {
			return f, true
		}
		if f.Type.Kind() == reflect.Struct || f.Type.Kind() == reflect.Pointer && !fv.IsNil() {
			if sf, ok := nilEmbeddedBase(fv, depth-1); ok {
				return sf, true
			}
		}
	}
	return reflect.StructField{}, false
}
