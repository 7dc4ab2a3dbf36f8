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
type ValidationError struct {
	Message string       // what went wrong overall
	Fields  []FieldError // per-field problems, in struct order; may be empty
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
	return e.Message + ": " + strings.Join(msgs, "; ")
}

// Unwrap returns the cause.
func (e *ValidationError) Unwrap() error { return e.Err }

// response is the JSON body WriteError sends for e.
func (e *ValidationError) response(code int) map[string]any {
	fields := e.Fields
	if fields == nil {
		fields = []FieldError{}
	}
	return map[string]any{"code": code, "message": e.Message, "fields": fields}
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
// custom rules on Application.Validator). A JSON body (Content-Type
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
	ct, _, _ := mime.ParseMediaType(h.r.Header.Get("Content-Type"))
	if ct == "application/json" || strings.HasSuffix(ct, "+json") {
		return h.BindJSON(dst)
	}
	return h.BindArguments(dst)
}

// BindJSON decodes the JSON request body into dst (an empty body counts as
// {}) and validates it as Bind does.
func (h *RequestHandler) BindJSON(dst any) error {
	if err := checkBindTarget(dst); err != nil {
		return err
	}
	if h.r.Body != nil {
		dec := json.NewDecoder(h.r.Body)
		if err := dec.Decode(dst); err != nil && !errors.Is(err, io.EOF) {
			return jsonBindError(err)
		}
	}
	return h.validate(dst, nil)
}

func jsonBindError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return bodyError(err)
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
	var fields []FieldError
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
				fields = append(fields, FieldError{Field: name, Rule: "type",
					Message: fmt.Sprintf("%s must be %s", name, kindPhrase(sf.Type))})
			}
		}
		return nil
	}
	if err := walk(reflect.ValueOf(dst).Elem(), ""); err != nil {
		return err
	}
	if len(fields) > 0 {
		return &ValidationError{Message: "validation failed", Fields: fields}
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
	ve := &ValidationError{Message: "validation failed", Err: err}
	for _, fe := range verrs {
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
