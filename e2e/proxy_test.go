package e2e

import (
	"io"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// proxy is a TCP forwarder in front of the example servers, the browser's
// one address: the test points it at another process (a load balancer
// sending a reconnecting page to another node) or cuts every connection
// through it (a network drop the server does not see coming).
type proxy struct {
	ln net.Listener
	wg sync.WaitGroup

	mu      sync.Mutex
	backend string // "" refuses: accepted connections are closed at once
	conns   map[net.Conn]struct{}
}

// startProxy listens on a free loopback port and forwards to backend
// until the test ends.
func startProxy(t *testing.T, backend string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, backend: backend, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

// url is the proxy's http:// URL for path.
func (p *proxy) url(path string) string { return "http://" + p.ln.Addr().String() + path }

// route sends new connections to backend ("" refuses them).
func (p *proxy) route(backend string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backend = backend
}

// cut closes every connection through the proxy.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		backend := p.backend
		p.mu.Unlock()
		if backend == "" {
			c.Close()
			continue
		}
		p.wg.Go(func() { p.forward(c, backend) })
	}
}

// forward copies between c and a new connection to backend, both ways,
// until either side closes or cut.
func (p *proxy) forward(c net.Conn, backend string) {
	defer c.Close()
	up, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	defer up.Close()
	p.mu.Lock()
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		delete(p.conns, up)
		p.mu.Unlock()
	}()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); up.Close(); done <- struct{}{} }()
	go func() { io.Copy(c, up); c.Close(); done <- struct{}{} }()
	<-done
	<-done
}
