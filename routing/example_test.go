package routing_test

import (
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/tornago/tornago/routing"
)

func ExampleRouter_Match() {
	r, err := routing.New([]routing.Rule{
		{Pattern: "/", Name: "home"},
		{Pattern: `/files/([^/]+)`, Name: "file"},
		{Pattern: `/u/(?P<user>[^/]+)/p/(?P<post>[0-9]+)`, Name: "post"},
		{Pattern: "/admin", Host: `admin\.example\.com`, Name: "admin"},
	})
	if err != nil {
		panic(err)
	}
	for _, target := range []string{
		"/files/a%2Fb+c", // matched raw: %2F is not a separator; "+" stays
		"/u/al%20ice/p/7",
		"http://Admin.Example.com:8443/admin", // host lowercased, port dropped
		"http://www.example.com/admin",
		"/files/%FF",
	} {
		m, ok, err := r.Match(httptest.NewRequest("GET", target, nil))
		var rerr *routing.Error
		switch {
		case errors.As(err, &rerr):
			fmt.Printf("%s: %d %s\n", target, rerr.Code, rerr.Msg)
		case !ok:
			fmt.Printf("%s: no match (404)\n", target)
		case m.Kwargs != nil:
			fmt.Printf("%s: %s user=%q post=%q\n", target, m.Rule.Name, m.Kwargs["user"], m.Kwargs["post"])
		default:
			fmt.Printf("%s: %s %q\n", target, m.Rule.Name, m.Args)
		}
	}
	// Output:
	// /files/a%2Fb+c: file ["a/b+c"]
	// /u/al%20ice/p/7: post user="al ice" post="7"
	// http://Admin.Example.com:8443/admin: admin []
	// http://www.example.com/admin: no match (404)
	// /files/%FF: 400 Invalid unicode in url: b'\xff'
}

func ExampleRouter_ReverseURL() {
	r, err := routing.New([]routing.Rule{
		{Pattern: `/users/([^/]+)/posts/([0-9]+)`, Name: "post"},
		{Pattern: `/(?:a|b)/([0-9]+)`, Name: "either"},
	})
	if err != nil {
		panic(err)
	}
	u, err := r.ReverseURL("post", "ann smith/ß", 42)
	fmt.Println(u, err)

	_, err = r.ReverseURL("either", 1)
	fmt.Println(errors.Is(err, routing.ErrNotReversible))
	_, err = r.ReverseURL("post", "x")
	fmt.Println(errors.Is(err, routing.ErrArgCount))
	// Output:
	// /users/ann%20smith/%C3%9F/posts/42 <nil>
	// true
	// true
}

func ExampleNew() {
	_, err := routing.New([]routing.Rule{{Pattern: `/(?P<id>[0-9]+)/([a-z]+)`}})
	fmt.Println(errors.Is(err, routing.ErrMixedGroups))
	fmt.Println(err)
	// Output:
	// true
	// routing: named and positional groups mixed: rule 0: path pattern "/(?P<id>[0-9]+)/([a-z]+)": groups in url regexes must either be all named or all positional
}

func ExampleHostName() {
	fmt.Println(routing.HostName("Example.COM:8080"))
	fmt.Println(routing.HostName("[::1]:8888"))
	fmt.Println(routing.HostName(""))
	// Output:
	// example.com
	// [::1]
	// 127.0.0.1
}
