package tornago

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
)

// ValidationError is what Bind returns when the request does not fill the
// struct correctly: a malformed JSON body, an argument that does not convert
// to its field's type, or failed `validate` tags. Returned from a handler it
// answers 400 with a JSON body (never a 500):
//
//	{"code": 400, "message": "validation failed",
//	 "fields": [{"field": "age", "rule": "min", "param": "18",
//	             "message": "age must be at least 18"}]}
//
// At most Settings.MaxFieldErrors problems are listed; the response then
// carries "omitted": N for the rest, so that a huge invalid array cannot
// turn into a huge response.
type ValidationError struct {
	Message string       // what went wrong overall
	Fields  []FieldError // per-field problems, in struct order; may be empty
	Omitted int          // how many further problems were found but not listed
	Err     error        // the cause (a JSON or validator error), if any
}

// FieldError is one field's problem in a ValidationError.
type FieldError struct {
	Field   string `json:"field"`           // the argument or JSON name
	Rule    string `json:"rule"`            // the failed validate tag, or "type"
	Param   string `json:"param,omitempty"` // the tag's parameter, e.g. "18" for min=18
	Message string `json:"message"`         // an English sentence for humans
}

// Error lists the field messages.
func (e *ValidationError) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Message
	}
	s := e.Message + ": " + strings.Join(msgs, "; ")
	if e.Omitted > 0 {
		s += fmt.Sprintf(" (and %d more)", e.Omitted)
	}
	return s
}

// add appends f, or counts it in Omitted once max fields are listed.
func (e *ValidationError) add(f FieldError, max int) {
	if len(e.Fields) >= max {
		e.Omitted++
		return
	}
	e.Fields = append(e.Fields, f)
}

// Unwrap returns the cause.
func (e *ValidationError) Unwrap() error { return e.Err }

// response is the JSON body WriteError sends for e.
func (e *ValidationError) response(code int) map[string]any {
	fields := e.Fields
	if fields == nil {
		fields = []FieldError{}
	}
	body := map[string]any{"code": code, "message": e.Message, "fields": fields}
	if e.Omitted > 0 {
		body["omitted"] = e.Omitted
	}
	return body
}

// newValidator is the Application's validator: field names in errors come
// from `json`, then `form` tags.
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		if name := tagName(f, "json"); name != "" {
			return name
		}
		return argName(f)
	})
	return v
}

// Bind fills the struct dst points to from the request and validates it with
// its `validate` tags (github.com/go-playground/validator/v10; register
// custom rules with Application.RegisterValidation). A JSON body (Content-Type
// application/json) is decoded into dst; otherwise fields are filled from
// the arguments (query and form body, cleaned as GetArgument) and the
// route's named groups, which win. Any failure is a *ValidationError:
//
//	var form struct {
//		Name string `form:"name" validate:"required"`
//		Age  int    `form:"age" validate:"min=18"`
//	}
//	if err := h.Bind(&form); err != nil {
//		return err // 400 with the field errors as JSON
//	}
func (h *RequestHandler) Bind(dst any) error {
	ct, _, _ := mime.ParseMediaType(h.request().Header.Get("Content-Type"))
	if ct == "application/json" || strings.HasSuffix(ct, "+json") {
		return h.BindJSON(dst)
	}
	return h.BindArguments(dst)
}

// BindJSON decodes the JSON request body into dst (an empty body counts as
// {}) and validates it as Bind does. The body must hold one JSON value:
// anything after it is a 400. A body with more than
// Settings.MaxJSONElements array elements and object members is a 413.
//
// Object keys match field names case-insensitively, as everywhere
// encoding/json decodes ({"AGE": 5} fills `json:"age"`; of two keys that
// differ only in case, the last wins). Exact matching would need
// encoding/json/v2, still experimental in Go 1.26. What the validator
// checks is the value that was stored, so this cannot bypass validation;
// but a proxy that inspects JSON must not rely on exact key names.
func (h *RequestHandler) BindJSON(dst any) error {
	if err := checkBindTarget(dst); err != nil {
		return err
	}
	if h.request().Body != nil {
		if err := decodeJSON(h.request().Body, dst, h.app.settings.MaxJSONElements); err != nil {
			return err
		}
	}
	return h.validate(dst, nil)
}

// decodeJSON decodes the one JSON value body holds into dst; an empty body
// leaves dst alone.
func decodeJSON(body io.Reader, dst any, maxElements int) error {
	dec := json.NewDecoder(&jsonLimitReader{r: body, limit: maxElements})
	if err := dec.Decode(dst); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return jsonBindError(err)
	}
	switch _, err := dec.Token(); {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return jsonBindError(err)
	}
	return &ValidationError{Message: "invalid JSON body: data after the top-level value"}
}

func jsonBindError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return bodyError(err)
	}
	var tme *tooManyJSONElementsError
	if errors.As(err, &tme) {
		return HTTPError{Code: http.StatusRequestEntityTooLarge, Message: tme.Error(), Err: err}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return &ValidationError{Message: "validation failed", Err: err, Fields: []FieldError{{
			Field: te.Field, Rule: "type", Message: fmt.Sprintf("%s must be %s", te.Field, kindPhrase(te.Type)),
		}}}
	}
	return &ValidationError{Message: "invalid JSON body: " + err.Error(), Err: err}
}

// BindArguments fills dst from the arguments and named path groups, ignoring
// the body's content type, and validates it as Bind does. A field's argument
// name is its `form` tag, else its `json` tag, else the Go field name;
// "-" skips the field. Supported field types: strings, bools ("on" is true,
// for check boxes), integers, floats, time.Duration, encoding.TextUnmarshaler
// (time.Time takes RFC 3339), pointers to these (nil when absent) and slices
// of them (every value of a repeated argument). Absent arguments leave the
// field alone; use `validate:"required"` to demand them.
func (h *RequestHandler) BindArguments(dst any) error {
	if err := checkBindTarget(dst); err != nil {
		return err
	}
	if err := h.parseArguments(); err != nil {
		return err
	}
	names := map[string]string{}
	ve := &ValidationError{Message: "validation failed"}
	maxFields := h.app.settings.MaxFieldErrors
	var walk func(v reflect.Value, prefix string) error
	walk = func(v reflect.Value, prefix string) error {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			fv := v.Field(i)
			if sf.Anonymous && sf.Type.Kind() == reflect.Struct && argName(sf) == sf.Name && tagName(sf, "form") == "" {
				if err := walk(fv, prefix+sf.Name+"."); err != nil {
					return err
				}
				continue
			}
			name := argName(sf)
			if !sf.IsExported() || name == "" {
				continue
			}
			names[prefix+sf.Name] = name
			values, err := h.bindValues(name)
			if err != nil {
				return err
			}
			if len(values) == 0 {
				continue
			}
			if err := setField(fv, values); err != nil {
				ve.add(FieldError{Field: name, Rule: "type",
					Message: fmt.Sprintf("%s must be %s", name, kindPhrase(sf.Type))}, maxFields)
			}
		}
		return nil
	}
	if err := walk(reflect.ValueOf(dst).Elem(), ""); err != nil {
		return err
	}
	if len(ve.Fields) > 0 {
		return ve
	}
	return h.validate(dst, names)
}

// bindValues returns the values for one field: the named path group if the
// route has one by that name, else the arguments.
func (h *RequestHandler) bindValues(name string) ([]string, error) {
	if v, ok := h.kwargs[name]; ok {
		return []string{v}, nil
	}
	return h.GetArguments(name)
}

func checkBindTarget(dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("tornago: Bind needs a non-nil pointer to a struct, got %T", dst)
	}
	return nil
}

// validate runs the validator; names maps struct field paths to argument
// names (nil: use the validator's json-based names).
func (h *RequestHandler) validate(dst any, names map[string]string) error {
	err := h.app.validator.Struct(dst)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return fmt.Errorf("tornago: validating %T: %w", dst, err)
	}
	// The validator has no way to stop at the first errors, so verrs holds
	// them all (MaxJSONElements bounds how many); only the listed ones are
	// formatted.
	ve := &ValidationError{Message: "validation failed", Err: err}
	maxFields := h.app.settings.MaxFieldErrors
	for _, fe := range verrs {
		if len(ve.Fields) >= maxFields {
			ve.Omitted = len(verrs) - maxFields
			break
		}
		name := fe.Field()
		if names != nil {
			_, path, _ := strings.Cut(fe.StructNamespace(), ".")
			if n, ok := names[path]; ok {
				name = n
			}
		} else if _, ns, ok := strings.Cut(fe.Namespace(), "."); ok {
			name = ns
		}
		ve.Fields = append(ve.Fields, FieldError{Field: name, Rule: fe.Tag(), Param: fe.Param(),
			Message: ruleMessage(name, fe.Tag(), fe.Param())})
	}
	return ve
}

// ruleMessage is an English sentence for a failed validator tag.
func ruleMessage(field, tag, param string) string {
	switch tag {
	case "required":
		return field + " is required"
	case "min", "gte":
		return fmt.Sprintf("%s must be at least %s", field, param)
	case "max", "lte":
		return fmt.Sprintf("%s must be at most %s", field, param)
	case "gt":
		return fmt.Sprintf("%s must be greater than %s", field, param)
	case "lt":
		return fmt.Sprintf("%s must be less than %s", field, param)
	case "len":
		return fmt.Sprintf("%s must have length %s", field, param)
	case "oneof":
		return fmt.Sprintf("%s must be one of: %s", field, param)
	case "email":
		return field + " must be a valid email address"
	case "url", "http_url":
		return field + " must be a valid URL"
	}
	if param != "" {
		return fmt.Sprintf("%s fails the %s=%s rule", field, tag, param)
	}
	return fmt.Sprintf("%s fails the %s rule", field, tag)
}

func tagName(f reflect.StructField, key string) string {
	name, _, _ := strings.Cut(f.Tag.Get(key), ",")
	if name == "-" {
		return ""
	}
	return name
}

// argName is the argument name of a field for BindArguments, "" to skip.
func argName(f reflect.StructField) string {
	for _, key := range []string{"form", "json"} {
		tag, _, _ := strings.Cut(f.Tag.Get(key), ",")
		if tag == "-" {
			return ""
		}
		if tag != "" {
			return tag
		}
	}
	return f.Name
}

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType        = reflect.TypeFor[time.Duration]()
)

// setField converts values into fv.
func setField(fv reflect.Value, values []string) error {
	if fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() != reflect.Uint8 &&
		!reflect.PointerTo(fv.Type()).Implements(textUnmarshalerType) {
		s := reflect.MakeSlice(fv.Type(), len(values), len(values))
		for i, v := range values {
			if err := setScalar(s.Index(i), v); err != nil {
				return err
			}
		}
		fv.Set(s)
		return nil
	}
	return setScalar(fv, values[len(values)-1])
}

func setScalar(fv reflect.Value, s string) error {
	if fv.Kind() == reflect.Pointer {
		p := reflect.New(fv.Type().Elem())
		if err := setScalar(p.Elem(), s); err != nil {
			return err
		}
		fv.Set(p)
		return nil
	}
	if fv.CanAddr() && fv.Addr().Type().Implements(textUnmarshalerType) {
		return fv.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
	}
	if fv.Type() == durationType {
		d, err := time.ParseDuration(s)
		fv.SetInt(int64(d))
		return err
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(s)
	case reflect.Bool:
		if s == "on" {
			fv.SetBool(true)
			return nil
		}
		b, err := strconv.ParseBool(s)
		fv.SetBool(b)
		return err
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, fv.Type().Bits())
		fv.SetInt(n)
		return err
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, fv.Type().Bits())
		fv.SetUint(n)
		return err
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, fv.Type().Bits())
		fv.SetFloat(f)
		return err
	default:
		return fmt.Errorf("unsupported field type %s", fv.Type())
	}
	return nil
}

// kindPhrase names what a type accepts, for "age must be an integer".
func kindPhrase(t reflect.Type) string {
	for t.Kind() == reflect.Pointer || (t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8) {
		t = t.Elem()
	}
	if t == durationType {
		return "a duration"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	}
	return "a valid " + t.String()
}
