package tornago

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Connections that never sent a request. Browsers open spare connections
// ahead of need. http.Server.Shutdown waits for one that is still in
// StateNew until it has been so for 5 s, then takes it for idle and closes
// it; but a connection that negotiated HTTP/2 over TLS it marks active at
// once (net/http issue 39776) and leaves to its HTTP/2 server, which waits
// up to 10 s for the client's preface: as long as the default
// ShutdownTimeout, so a page served over HTTP/2 could make Shutdown fail
// (Chromium keeps such a connection). The Application therefore watches
// its servers' connections (http.Server.ConnState) and, while shutting
// down, closes those that have been new for spareConnAge, the rule
// net/http applies to HTTP/1.1 ones, whatever protocol they negotiated.

// spareConnAge is how long a connection may stay new, without a request
// (or, for HTTP/2, without its preface), before Shutdown closes it: the
// age after which http.Server.Shutdown takes a StateNew connection for
// idle.
const spareConnAge = 5 * time.Second

// spareCheckInterval is how often Shutdown looks for spare connections.
const spareCheckInterval = 250 * time.Millisecond

// newConns records since when each connection of the Application's
// servers has been in StateNew.
type newConns struct {
	mu    sync.Mutex
	since map[net.Conn]time.Time
}

// track is the servers' http.Server.ConnState hook. HTTP/2 reports
// StateActive for a connection once the client's preface has come.
func (n *newConns) track(c net.Conn, st http.ConnState) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if st != http.StateNew {
		delete(n.since, c)
		return
	}
	if n.since == nil {
		n.since = make(map[net.Conn]time.Time)
	}
	n.since[c] = time.Now()
}

// closeSpare closes, until done is closed, each connection once it has
// been new for spareConnAge.
func (n *newConns) closeSpare(done <-chan struct{}) {
	tick := time.NewTicker(spareCheckInterval)
	defer tick.Stop()
	for {
		n.closeOlderThan(time.Now().Add(-spareConnAge))
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
}

func (n *newConns) closeOlderThan(t time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for c, since := range n.since {
		if since.Before(t) {
			_ = c.Close()
			delete(n.since, c)
		}
	}
}
