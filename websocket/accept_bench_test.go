package websocket

import (
	"bufio"
	"context"
	"encoding/binary"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/testenv"
)

// serveUntilClosed serves c the way examples/echo -core does: every
// message is echoed until a read fails (the peer's close frame, answered
// by the read), then the TCP connection is dropped if still open.
func serveUntilClosed(c *Conn) {
	defer c.CloseNow()
	ctx := context.Background()
	for {
		typ, msg, err := c.ReadMessage(ctx)
		if err != nil {
			return
		}
		if err := c.WriteMessage(ctx, typ, msg); err != nil {
			return
		}
	}
}

// BenchmarkAcceptClose is the handshake scenario of bench/load in one
// process: a real http.Server on 127.0.0.1 accepts /echo, the client
// dials and closes at once with 1000, the server answers the close frame
// and drops TCP. Allocations count both sides and net/http;
// BenchmarkAcceptServer counts the server's WebSocket half alone.
func BenchmarkAcceptClose(b *testing.B) {
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		serveUntilClosed(c)
	}))
	defer func() {
		srv.Close()
		wg.Wait()
	}()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/echo"
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c, _, err := Dial(ctx, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Close(StatusNormalClosure, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// hijackRecorder is an http.ResponseWriter whose Hijack hands over a
// connection made beforehand, so that Accept can be measured without
// net/http's request parsing and hijack.
type hijackRecorder struct {
	httptest.ResponseRecorder
	nc  net.Conn
	brw *bufio.ReadWriter
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.nc, h.brw, nil
}

// benchHandshakeRequest is a handshake request as Dial sends it.
func benchHandshakeRequest(tb testing.TB) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/echo", nil)
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	require.Nil(tb, checkUpgradeRequest(r, &AcceptOptions{}))
	return r
}

// maskedClose1000 is a client's close frame with code 1000, masked with
// key 0.
var maskedClose1000 = func() []byte {
	f := []byte{0x88, 0x82, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(f[6:], uint16(StatusNormalClosure))
	return f
}()

// benchTCPPairs returns n connected TCP pairs over 127.0.0.1: server ends and
// client ends.
func benchTCPPairs(tb testing.TB, ln net.Listener, n int) (servers, clients []net.Conn) {
	for range n {
		cc, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(tb, err)
		sc, err := ln.Accept()
		require.NoError(tb, err)
		servers = append(servers, sc)
		clients = append(clients, cc)
	}
	return servers, clients
}

// BenchmarkAcceptServer measures the server's half of BenchmarkAcceptClose
// alone, on connections made before the timer runs: Accept on a parsed
// request, then the read that meets the client's close frame (sent ahead,
// waiting in the socket), the close reply and the TCP close. The client
// does nothing while the timer runs, so allocs/op are the server's.
func BenchmarkAcceptServer(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer ln.Close()
	r := benchHandshakeRequest(b)
	brw := bufio.NewReadWriter(bufio.NewReaderSize(strings.NewReader(""), 16), bufio.NewWriterSize(nil, 16))
	const batch = 64
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		n := min(batch, b.N-done)
		servers, clients := benchTCPPairs(b, ln, n)
		ws := make([]hijackRecorder, n)
		for i, cc := range clients {
			ws[i] = hijackRecorder{nc: servers[i], brw: brw}
			_, err := cc.Write(maskedClose1000)
			require.NoError(b, err)
		}
		b.StartTimer()
		for i := range ws {
			c, err := Accept(&ws[i], r, nil)
			if err != nil {
				b.Fatal(err)
			}
			serveUntilClosed(c)
		}
		b.StopTimer()
		for _, cc := range clients {
			cc.Close()
		}
		done += n
		b.StartTimer()
	}
}

// acceptServerAllocBudget is the most allocations the server's half of a
// handshake and close may make (BenchmarkAcceptServer). Today's 8: the
// Conn with its four channels and raw connection (6), the bound idle-read
// callback (1) and the peer's CloseError (1). It was 29 before the 101 and
// the close reply were written without contexts, timers or deadlines.
const acceptServerAllocBudget = 8

// TestAcceptServerAllocs keeps the allocations of the server's half of a
// handshake and close (BenchmarkAcceptServer) within budget, so that a
// change adding some is noticed. Not parallel: AllocsPerRun counts every
// goroutine's allocations.
func TestAcceptServerAllocs(t *testing.T) {
	if testenv.RaceEnabled() {
		t.Skip("the race detector drops pooled buffers at random")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	r := benchHandshakeRequest(t)
	brw := bufio.NewReadWriter(bufio.NewReaderSize(strings.NewReader(""), 16), bufio.NewWriterSize(nil, 16))
	const runs = 50
	// AllocsPerRun runs once more to warm up.
	servers, clients := benchTCPPairs(t, ln, runs+1)
	ws := make([]hijackRecorder, len(servers))
	for i, cc := range clients {
		ws[i] = hijackRecorder{nc: servers[i], brw: brw}
		_, err := cc.Write(maskedClose1000)
		require.NoError(t, err)
	}
	defer func() {
		for _, cc := range clients {
			cc.Close()
		}
	}()
	next := 0
	allocs := testing.AllocsPerRun(runs, func() {
		c, err := Accept(&ws[next], r, nil)
		next++
		if err != nil {
			t.Fatal(err)
		}
		serveUntilClosed(c)
	})
	t.Logf("%.0f allocations per upgrade and close", allocs)
	assert.LessOrEqual(t, allocs, float64(acceptServerAllocBudget))
}
