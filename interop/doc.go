// Package interop tests tornago's WebSocket core against clients and servers
// it did not write: github.com/gorilla/websocket and github.com/coder/websocket.
//
// It is a separate module so that the main module never depends on those
// libraries. Every test runs over real TCP on 127.0.0.1: tornago's server
// (websocket.Accept inside an httptest server) with each foreign client, and
// tornago's client (websocket.Dial) against each foreign server; a few
// tests drive a whole tornago.Application (shutdown_test.go), which brings
// in the root module's dependencies here. Run it with
//
//	cd interop && go test -race ./...
package interop
