// Package routers mounts the room handler of examples/mount in chi and
// gorilla/mux. It is a module of its own so that tornago itself depends on
// neither router: Application.HandlerFor takes the path parameters from
// whichever router matched, through PathKwargs and PathArgs.
package routers

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/mux"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/examples/mount/room"
)

// Chi serves the rooms from a chi router.
func Chi(app *tornago.Application, hub *room.Hub) http.Handler {
	r := chi.NewRouter()
	r.Get("/rooms/{room}", app.HandlerFor(hub.Factory(), tornago.PathKwargs(chiParams)).ServeHTTP)
	r.Get("/rooms/{room}/as/{nick}", app.HandlerFor(hub.Factory(), tornago.PathKwargs(chiParams),
		tornago.PathArgs(func(r *http.Request) []string { return []string{chi.URLParam(r, "nick")} })).ServeHTTP)
	return r
}

// chiParams collects the URL parameters chi matched.
func chiParams(r *http.Request) map[string]string {
	rc := chi.RouteContext(r.Context())
	if rc == nil {
		return nil
	}
	m := make(map[string]string, len(rc.URLParams.Keys))
	for i, k := range rc.URLParams.Keys {
		m[k] = rc.URLParams.Values[i]
	}
	return m
}

// Gorilla serves the rooms from a gorilla/mux router.
func Gorilla(app *tornago.Application, hub *room.Hub) http.Handler {
	r := mux.NewRouter()
	r.Handle("/rooms/{room}", app.HandlerFor(hub.Factory(), tornago.PathKwargs(mux.Vars))).Methods(http.MethodGet)
	r.Handle("/rooms/{room}/as/{nick}", app.HandlerFor(hub.Factory(), tornago.PathKwargs(mux.Vars),
		tornago.PathArgs(func(r *http.Request) []string { return []string{mux.Vars(r)["nick"]} }))).Methods(http.MethodGet)
	return r
}
