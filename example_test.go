package tornago_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/tornago/tornago"
)

// quiet is the settings the examples start from: no access log on stdout.
func quiet() tornago.Settings {
	return tornago.Settings{Logger: slog.New(slog.DiscardHandler)}
}

// show prints the status, a header and the body of a request to srv.
func show(srv *httptest.Server, method, path, body string, header ...string) {
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if loc := resp.Header.Get("Location"); loc != "" {
		fmt.Println(resp.StatusCode, "Location:", loc)
		return
	}
	fmt.Println(resp.StatusCode, string(b))
}

type MainHandler struct{ tornago.RequestHandler }

func (h *MainHandler) Get(args ...string) error {
	return h.Write("Hello, world")
}

type StoryHandler struct{ tornago.RequestHandler }

func (h *StoryHandler) Get(args ...string) error {
	return h.Write("You requested the story " + args[0])
}

func ExampleNewApplication() {
	app, err := tornago.NewApplication([]tornago.Route{
		{Pattern: `/`, Handler: func() tornago.Handler { return &MainHandler{} }},
		{Pattern: `/story/([0-9]+)`, Name: "story", Handler: func() tornago.Handler { return &StoryHandler{} }},
	}, quiet())
	if err != nil {
		panic(err)
	}
	// In a program: app.ListenAndServe(":8888"), then app.Shutdown(ctx).
	srv := httptest.NewServer(app)
	defer srv.Close()

	show(srv, "GET", "/", "")
	show(srv, "GET", "/story/42", "")
	show(srv, "POST", "/story/42", "")
	show(srv, "GET", "/nowhere", "")
	u, _ := app.ReverseURL("story", 7)
	fmt.Println(u)
	// Output:
	// 200 Hello, world
	// 200 You requested the story 42
	// 405 <html><title>405: Method Not Allowed</title><body>405: Method Not Allowed</body></html>
	// 404 <html><title>404: Not Found</title><body>404: Not Found</body></html>
	// /story/7
}

type GreetHandler struct{ tornago.RequestHandler }

func (h *GreetHandler) Get(args ...string) error {
	name, err := h.GetArgument("name") // required: missing → 400
	if err != nil {
		return err
	}
	greeting, _ := h.GetArgument("greeting", tornago.Default("Hello"))
	return h.Write(greeting + ", " + name + "!")
}

func ExampleRequestHandler_GetArgument() {
	app, _ := tornago.NewApplication([]tornago.Route{
		{Pattern: `/greet`, Handler: func() tornago.Handler { return &GreetHandler{} }},
	}, quiet())
	srv := httptest.NewServer(app)
	defer srv.Close()

	show(srv, "GET", "/greet?name=%20Ann%20", "")
	show(srv, "GET", "/greet?name=Ann&name=Bob&greeting=Hi", "")
	show(srv, "GET", "/greet", "")
	// Output:
	// 200 Hello, Ann!
	// 200 Hi, Bob!
	// 400 <html><title>400: Bad Request</title><body>400: Bad Request</body></html>
}

type SignupHandler struct{ tornago.RequestHandler }

type signupForm struct {
	Email string `form:"email" json:"email" validate:"required,email"`
	Age   int    `form:"age" json:"age" validate:"gte=18"`
}

func (h *SignupHandler) Post(args ...string) error {
	var f signupForm
	if err := h.Bind(&f); err != nil {
		return err // a *ValidationError: 400 with the field errors as JSON
	}
	return h.Write(map[string]any{"welcome": f.Email})
}

func ExampleRequestHandler_Bind() {
	app, _ := tornago.NewApplication([]tornago.Route{
		{Pattern: `/signup`, Handler: func() tornago.Handler { return &SignupHandler{} }},
	}, quiet())
	srv := httptest.NewServer(app)
	defer srv.Close()

	form := url.Values{"email": {"ann@example.com"}, "age": {"30"}}.Encode()
	show(srv, "POST", "/signup", form, "Content-Type", "application/x-www-form-urlencoded")
	show(srv, "POST", "/signup", `{"email":"nope","age":12}`, "Content-Type", "application/json")
	// Output:
	// 200 {"welcome":"ann@example.com"}
	// 400 {"code":400,"fields":[{"field":"email","rule":"email","message":"email must be a valid email address"},{"field":"age","rule":"gte","param":"18","message":"age must be at least 18"}],"message":"validation failed"}
}

type ItemHandler struct{ tornago.RequestHandler }

func (h *ItemHandler) Get(args ...string) error {
	if args[0] != "1" {
		return tornago.Errorf(404, "no item %s", args[0]) // the message is logged, not shown
	}
	return h.Write(map[string]any{"id": 1, "note": "</script> is escaped"})
}

func ExampleRequestHandler_Write() {
	app, _ := tornago.NewApplication([]tornago.Route{
		{Pattern: `/items/(\d+)`, Handler: func() tornago.Handler { return &ItemHandler{} }},
	}, quiet())
	srv := httptest.NewServer(app)
	defer srv.Close()

	show(srv, "GET", "/items/1", "")
	show(srv, "GET", "/items/2", "")
	// Output:
	// 200 {"id":1,"note":"<\/script> is escaped"}
	// 404 <html><title>404: Not Found</title><body>404: Not Found</body></html>
}

// BaseHandler holds what every page shares, here the user lookup.
type BaseHandler struct{ tornago.RequestHandler }

func (h *BaseHandler) GetCurrentUser() (any, error) {
	name, err := h.GetSecureCookie("user")
	if err != nil {
		return nil, nil // no valid cookie: anonymous
	}
	return name, nil
}

type LoginHandler struct{ BaseHandler }

func (h *LoginHandler) Get(args ...string) error {
	if err := h.SetSecureCookie("user", "ann"); err != nil {
		return err
	}
	next, _ := h.GetArgument("next", tornago.Default("/"))
	return h.Redirect(next)
}

type ProfileHandler struct{ BaseHandler }

func (h *ProfileHandler) Get(args ...string) error {
	user, err := h.CurrentUser()
	if err != nil {
		return err
	}
	return h.Write(fmt.Sprintf("profile of %v", user))
}

func ExampleAuthenticated() {
	settings := quiet()
	settings.CookieSecret = "a long random secret, kept out of source control"
	settings.LoginURL = "/login"
	app, _ := tornago.NewApplication([]tornago.Route{
		{Pattern: `/login`, Handler: func() tornago.Handler { return &LoginHandler{} }},
		{Pattern: `/profile`, Handler: tornago.Authenticated(func() tornago.Handler { return &ProfileHandler{} })},
	}, settings)
	srv := httptest.NewServer(app)
	defer srv.Close()

	show(srv, "GET", "/profile", "")
	show(srv, "POST", "/profile", "")

	// Log in (show's client does not follow redirects), then come back
	// with the cookie.
	show(srv, "GET", "/login?next=/profile", "")
	resp, err := srv.Client().Get(srv.URL + "/login")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	cookie := resp.Cookies()[0]
	show(srv, "GET", "/profile", "", "Cookie", cookie.Name+"="+cookie.Value)
	// Output:
	// 302 Location: /login?next=%2Fprofile
	// 403 <html><title>403: Forbidden</title><body>403: Forbidden</body></html>
	// 302 Location: /profile
	// 200 profile of ann
}

type APIHandler struct{ tornago.RequestHandler }

func (h *APIHandler) Get(args ...string) error {
	return h.Write("room " + h.PathKwarg("room"))
}

func ExampleApplication_HandlerFor() {
	app, _ := tornago.NewApplication(nil, quiet())
	mux := http.NewServeMux()
	mux.Handle("GET /rooms/{room}", app.HandlerFor(func() tornago.Handler { return &APIHandler{} }))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer app.Shutdown(context.Background()) //nolint:errcheck // nothing to close here

	show(srv, "GET", "/rooms/lobby", "")
	// Output:
	// 200 room lobby
}
