package tornago_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/websocket"
)

// Each type below is a porting mistake that compiles.

// noArgsGet is `def get(self)` translated literally.
type noArgsGet struct{ tornago.RequestHandler }

func (h *noArgsGet) Get() error { return h.Write("never") }

// stringPost returns nothing.
type stringPost struct{ tornago.RequestHandler }

func (h *stringPost) Post(args ...string) {}

// pointerBase embeds the base by pointer and never sets it.
type pointerBase struct{ *tornago.RequestHandler }

func (h *pointerBase) Get(args ...string) error { return h.Write("never") }

// pointerSocket does the same with WebSocketHandler.
type pointerSocket struct{ *tornago.WebSocketHandler }

// nestedPointerBase hides the nil pointer one embedding down.
type nestedPointerBase struct{ pointerBase }

// openNoArgs is `def open(self)` translated literally.
type openNoArgs struct{ tornago.WebSocketHandler }

func (h *openNoArgs) Open() error { return nil }

// stringMessage takes on_message's str.
type stringMessage struct{ tornago.WebSocketHandler }

func (h *stringMessage) OnMessage(s string) error { return nil }

// closeWithError returns an error from OnClose.
type closeWithError struct{ tornago.WebSocketHandler }

func (h *closeWithError) OnClose() error { return nil }

// originNoBool forgets CheckOrigin's result.
type originNoBool struct{ tornago.WebSocketHandler }

func (h *originNoBool) CheckOrigin(origin string) {}

// userAsString returns get_current_user's value without the error.
type userAsString struct{ tornago.RequestHandler }

func (h *userAsString) GetCurrentUser() string { return "ann" }

// prepareNoError is `def prepare(self)` translated literally; for HTTP
// and WebSocket handlers alike.
type prepareNoError struct{ tornago.WebSocketHandler }

func (h *prepareNoError) Prepare() {}

// writeErrorKwargs copies write_error(self, status_code, **kwargs).
type writeErrorKwargs struct{ tornago.RequestHandler }

func (h *writeErrorKwargs) WriteError(code int, kwargs map[string]any) {}

// getArgsOnSocket is a WebSocket handler with an unrelated Get: WebSocket
// handlers have no verb methods, so it is not checked.
type getArgsOnSocket struct{ tornago.WebSocketHandler }

func (h *getArgsOnSocket) Get() {}

func TestNewApplicationRefusesHandlersThatCannotServe(t *testing.T) {
	tests := []struct {
		name    string
		factory tornago.Factory
		want    string
		method  string
	}{
		{"Get without args", func() tornago.Handler { return &noArgsGet{} },
			`tornago: route "/x": (*tornago_test.noArgsGet).Get has signature func() error; want func(...string) error`, "Get"},
		{"Post without error", func() tornago.Handler { return &stringPost{} },
			`tornago: route "/x": (*tornago_test.stringPost).Post has signature func(...string); want func(...string) error`, "Post"},
		{"RequestHandler by pointer", func() tornago.Handler { return &pointerBase{} },
			`tornago: route "/x": *tornago_test.pointerBase embeds *tornago.RequestHandler by pointer and the factory leaves it nil; embed tornago.RequestHandler by value`, ""},
		{"WebSocketHandler by pointer", func() tornago.Handler { return &pointerSocket{} },
			`tornago: route "/x": *tornago_test.pointerSocket embeds *tornago.WebSocketHandler by pointer and the factory leaves it nil; embed tornago.WebSocketHandler by value`, ""},
		{"nil base one embedding down", func() tornago.Handler { return &nestedPointerBase{} },
			`tornago: route "/x": *tornago_test.nestedPointerBase embeds *tornago.RequestHandler by pointer and the factory leaves it nil; embed tornago.RequestHandler by value`, ""},
		{"Open without args", func() tornago.Handler { return &openNoArgs{} },
			`tornago: route "/x": (*tornago_test.openNoArgs).Open has signature func() error; want func(...string) error`, "Open"},
		{"OnMessage of string", func() tornago.Handler { return &stringMessage{} },
			`tornago: route "/x": (*tornago_test.stringMessage).OnMessage has signature func(string) error; want func(tornago.Message) error`, "OnMessage"},
		{"OnClose with error", func() tornago.Handler { return &closeWithError{} },
			`tornago: route "/x": (*tornago_test.closeWithError).OnClose has signature func() error; want func()`, "OnClose"},
		{"CheckOrigin without bool", func() tornago.Handler { return &originNoBool{} },
			`tornago: route "/x": (*tornago_test.originNoBool).CheckOrigin has signature func(string); want func(string) bool`, "CheckOrigin"},
		{"Prepare without error", func() tornago.Handler { return &prepareNoError{} },
			`tornago: route "/x": (*tornago_test.prepareNoError).Prepare has signature func(); want func() error`, "Prepare"},
		{"WriteError with kwargs", func() tornago.Handler { return &writeErrorKwargs{} },
			`tornago: route "/x": (*tornago_test.writeErrorKwargs).WriteError has signature func(int, map[string]interface {}); want func(int, error)`, "WriteError"},
		{"GetCurrentUser without error", func() tornago.Handler { return &userAsString{} },
			`tornago: route "/x": (*tornago_test.userAsString).GetCurrentUser has signature func() string; want func() (interface {}, error)`, "GetCurrentUser"},
		{"factory returns nil", func() tornago.Handler { return nil },
			`tornago: route "/x": the factory returned nil`, ""},
		{"factory returns a typed nil", func() tornago.Handler { return (*noArgsGet)(nil) },
			`tornago: route "/x": the factory returned nil`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, err := tornago.NewApplication([]tornago.Route{{Pattern: "/x", Handler: tt.factory}}, tornago.Settings{})
			require.Error(t, err)
			assert.Nil(t, app)
			assert.EqualError(t, err, tt.want)
			var herr *tornago.HandlerError
			require.ErrorAs(t, err, &herr)
			assert.Equal(t, "/x", herr.Route)
			assert.Equal(t, tt.method, herr.Method)

			// The same check guards the default handler and HandlerFor,
			// which has no error result and so panics, as ServeMux.Handle.
			_, err = tornago.NewApplication(nil, tornago.Settings{DefaultHandler: tt.factory})
			require.ErrorAs(t, err, &herr)
			assert.Equal(t, "Settings.DefaultHandler", herr.Route)
			good, err := tornago.NewApplication(nil, tornago.Settings{})
			require.NoError(t, err)
			assert.PanicsWithError(t, "tornago: HandlerFor: "+tt.want[len(`tornago: route "/x": `):], func() {
				good.HandlerFor(tt.factory)
			})
		})
	}
}

func TestNewApplicationReportsAPanickingFactory(t *testing.T) {
	_, err := tornago.NewApplication([]tornago.Route{{Pattern: "/x", Handler: func() tornago.Handler { panic("no database") }}}, tornago.Settings{})
	var perr *tornago.PanicError
	require.ErrorAs(t, err, &perr)
	assert.Equal(t, "no database", perr.Value)
	assert.ErrorContains(t, err, `tornago: route "/x": the factory panicked: `)

	// Authenticated sets a field of the embedded base, so a nil one
	// panics inside the factory: still refused at start-up.
	_, err = tornago.NewApplication([]tornago.Route{{Pattern: "/x", Handler: tornago.Authenticated(func() tornago.Handler { return &pointerBase{} })}},
		tornago.Settings{LoginURL: "/login"})
	require.ErrorAs(t, err, &perr)
}

// everyHook implements every HTTP hook with the expected signature.
type everyHook struct{ tornago.RequestHandler }

var (
	_ tornago.GetMethod            = (*everyHook)(nil)
	_ tornago.HeadMethod           = (*everyHook)(nil)
	_ tornago.PostMethod           = (*everyHook)(nil)
	_ tornago.PutMethod            = (*everyHook)(nil)
	_ tornago.DeleteMethod         = (*everyHook)(nil)
	_ tornago.PatchMethod          = (*everyHook)(nil)
	_ tornago.OptionsMethod        = (*everyHook)(nil)
	_ tornago.Initializer          = (*everyHook)(nil)
	_ tornago.Preparer             = (*everyHook)(nil)
	_ tornago.OnFinisher           = (*everyHook)(nil)
	_ tornago.DefaultHeadersSetter = (*everyHook)(nil)
	_ tornago.ErrorWriter          = (*everyHook)(nil)
	_ tornago.XSRFCookieChecker    = (*everyHook)(nil)
	_ tornago.EtagComputer         = (*everyHook)(nil)
	_ tornago.LoginURLGetter       = (*everyHook)(nil)
	_ tornago.CurrentUserGetter    = (*everyHook)(nil)
)

func (h *everyHook) Get(args ...string) error     { return h.Write("get " + args[0]) }
func (h *everyHook) Head(args ...string) error    { return nil }
func (h *everyHook) Post(args ...string) error    { return nil }
func (h *everyHook) Put(args ...string) error     { return nil }
func (h *everyHook) Delete(args ...string) error  { return nil }
func (h *everyHook) Patch(args ...string) error   { return nil }
func (h *everyHook) Options(args ...string) error { return nil }
func (h *everyHook) Initialize()                  {}
func (h *everyHook) Prepare() error               { return nil }
func (h *everyHook) OnFinish()                    {}
func (h *everyHook) SetDefaultHeaders()           { h.SetHeader("X-Hooked", "yes") }
func (h *everyHook) WriteError(code int, err error) {
	h.RequestHandler.WriteError(code, err)
}
func (h *everyHook) CheckXSRFCookie() error       { return nil }
func (h *everyHook) ComputeEtag() string          { return "" }
func (h *everyHook) GetLoginURL() string          { return "/login" }
func (h *everyHook) GetCurrentUser() (any, error) { return "ann", nil }

// everySocketHook overrides every WebSocket hook.
type everySocketHook struct{ tornago.WebSocketHandler }

var _ tornago.WebSocketHooks = (*everySocketHook)(nil)

func (h *everySocketHook) Open(args ...string) error         { return nil }
func (h *everySocketHook) OnMessage(m tornago.Message) error { return h.WriteMessage(m.Data, m.Binary) }
func (h *everySocketHook) OnClose()                          {}
func (h *everySocketHook) CheckOrigin(origin string) bool    { return true }
func (h *everySocketHook) SelectSubprotocol(offered []string) string {
	return ""
}
func (h *everySocketHook) OnPing(payload []byte) {}
func (h *everySocketHook) OnPong(payload []byte) {}
func (h *everySocketHook) CompressionOptions() *websocket.CompressionOptions {
	return nil
}

func TestNewApplicationAcceptsEveryHookWithItsSignature(t *testing.T) {
	var setBase tornago.Factory = func() tornago.Handler {
		return &pointerBase{RequestHandler: &tornago.RequestHandler{}}
	}
	ta := newTestApp(t, []tornago.Route{
		{Pattern: "/every/(.*)", Handler: func() tornago.Handler { return &everyHook{} }},
		{Pattern: "/socket", Handler: func() tornago.Handler { return &everySocketHook{} }},
		{Pattern: "/unrelated-get", Handler: func() tornago.Handler { return &getArgsOnSocket{} }},
		// A base embedded by pointer is fine when the factory sets it.
		{Pattern: "/pointer", Handler: setBase},
	}, tornago.Settings{})
	for path, want := range map[string]string{"/every/thing": "get thing", "/pointer": "never"} {
		resp, err := ta.client.Get(ta.srv.URL + path)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Equal(t, want, string(body), path)
	}
	assert.NoError(t, tornago.CheckHandler(setBase))
}
