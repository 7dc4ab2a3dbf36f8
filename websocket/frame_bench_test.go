package websocket

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// frameBenchSizes are the payload sizes of the frame benchmarks: a chat
// message, a read buffer, a large frame, and a message far larger than
// any buffer.
var frameBenchSizes = []int{64, 4 << 10, 64 << 10, 1 << 20}

// benchRoles are the two sides of a connection, named after the role of
// the Conn being measured.
var benchRoles = []struct {
	name   string
	server bool
}{{"server", true}, {"client", false}}

// benchAddr is the address a benchConn reports for both ends.
var benchAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}

// benchConn is an in-memory net.Conn for benchmarks: reads replay stream
// from the start whenever it runs out, so a Conn can read the same frames
// forever, and writes are counted and dropped. Deadlines are accepted and
// ignored.
type benchConn struct {
	stream  []byte
	pos     int
	written int64
}

func (b *benchConn) Read(p []byte) (int, error) {
	if len(b.stream) == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		k := copy(p[n:], b.stream[b.pos:])
		n += k
		b.pos += k
		if b.pos == len(b.stream) {
			b.pos = 0
		}
	}
	return n, nil
}

func (b *benchConn) Write(p []byte) (int, error) {
	b.written += int64(len(p))
	return len(p), nil
}

func (b *benchConn) Close() error                       { return nil }
func (b *benchConn) LocalAddr() net.Addr                { return benchAddr }
func (b *benchConn) RemoteAddr() net.Addr               { return benchAddr }
func (b *benchConn) SetDeadline(t time.Time) error      { return nil }
func (b *benchConn) SetReadDeadline(t time.Time) error  { return nil }
func (b *benchConn) SetWriteDeadline(t time.Time) error { return nil }

// encodeFrame returns one final frame of type op carrying payload, as the
// peer of a Conn in the given role sends it: masked towards a server,
// unmasked towards a client.
func encodeFrame(toServer bool, op opcode, payload []byte) []byte {
	h := header{fin: true, op: op, length: int64(len(payload))}
	if toServer {
		h.masked = true
		h.key = 0x9abcdef0
	}
	frame := appendHeader(make([]byte, 0, maxHeaderSize+len(payload)), h)
	frame = append(frame, payload...)
	if h.masked {
		maskBytes(h.key, frame[len(frame)-len(payload):])
	}
	return frame
}

// benchPayload returns n bytes of ASCII, valid both as text and binary.
func benchPayload(n int) []byte {
	return bytes.Repeat([]byte("tornago!"), n/8+1)[:n]
}

// BenchmarkReadMessage reads one-frame binary messages with ReadMessage
// from a connection that replays them from memory: the cost of parsing,
// unmasking (server) and copying out, without the network. The message
// returned is the only allocation expected; messages over 64 KiB grow
// their buffer as bytes arrive rather than trusting the declared length,
// so they take a few.
func BenchmarkReadMessage(b *testing.B) {
	for _, role := range benchRoles {
		for _, n := range frameBenchSizes {
			b.Run(role.name+"/"+strconv.Itoa(n), func(b *testing.B) {
				nc := &benchConn{stream: encodeFrame(role.server, opBinary, benchPayload(n))}
				c := newConn(nc, nil, role.server, "", nil)
				ctx := context.Background()
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					typ, msg, err := c.ReadMessage(ctx)
					if err != nil || typ != BinaryMessage || len(msg) != n {
						b.Fatalf("ReadMessage: %v, %v, %d bytes", err, typ, len(msg))
					}
				}
			})
		}
	}
}

// BenchmarkReadMessageText is BenchmarkReadMessage for text, which adds
// the incremental UTF-8 check.
func BenchmarkReadMessageText(b *testing.B) {
	for _, n := range frameBenchSizes {
		b.Run("server/"+strconv.Itoa(n), func(b *testing.B) {
			nc := &benchConn{stream: encodeFrame(true, opText, benchPayload(n))}
			c := newConn(nc, nil, true, "", nil)
			ctx := context.Background()
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, msg, err := c.ReadMessage(ctx); err != nil || len(msg) != n {
					b.Fatalf("ReadMessage: %v, %d bytes", err, len(msg))
				}
			}
		})
	}
}

// BenchmarkNextReader streams messages through NextReader into a reused
// buffer, the way to read without allocating per message.
func BenchmarkNextReader(b *testing.B) {
	for _, n := range frameBenchSizes {
		b.Run("server/"+strconv.Itoa(n), func(b *testing.B) {
			nc := &benchConn{stream: encodeFrame(true, opBinary, benchPayload(n))}
			c := newConn(nc, nil, true, "", nil)
			ctx := context.Background()
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				_, r, err := c.NextReader(ctx)
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for {
					k, err := r.Read(buf)
					got += k
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if got != n {
					b.Fatalf("read %d bytes, want %d", got, n)
				}
			}
		})
	}
}

// BenchmarkWriteMessage writes one-frame binary messages to a connection
// that drops them: framing, masking (client) and the write calls. It
// should not allocate.
func BenchmarkWriteMessage(b *testing.B) {
	for _, role := range benchRoles {
		for _, n := range frameBenchSizes {
			b.Run(role.name+"/"+strconv.Itoa(n), func(b *testing.B) {
				c := newConn(&benchConn{}, nil, role.server, "", nil)
				ctx := context.Background()
				data := benchPayload(n)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.WriteMessage(ctx, BinaryMessage, data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkWriteMessageText adds the UTF-8 check a text write makes.
func BenchmarkWriteMessageText(b *testing.B) {
	for _, n := range frameBenchSizes {
		b.Run("server/"+strconv.Itoa(n), func(b *testing.B) {
			c := newConn(&benchConn{}, nil, true, "", nil)
			ctx := context.Background()
			data := benchPayload(n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.WriteMessage(ctx, TextMessage, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriteMessageCancelCtx writes with a context that can be
// cancelled, as a handler with a request-scoped context does: the cost of
// arming the deadline and the cancellation for each write.
func BenchmarkWriteMessageCancelCtx(b *testing.B) {
	for _, n := range []int{64, 4 << 10} {
		b.Run("server/"+strconv.Itoa(n), func(b *testing.B) {
			c := newConn(&benchConn{}, nil, true, "", nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			data := benchPayload(n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.WriteMessage(ctx, BinaryMessage, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadMessageCancelCtx is the read-side counterpart of
// BenchmarkWriteMessageCancelCtx.
func BenchmarkReadMessageCancelCtx(b *testing.B) {
	for _, n := range []int{64, 4 << 10} {
		b.Run("server/"+strconv.Itoa(n), func(b *testing.B) {
			nc := &benchConn{stream: encodeFrame(true, opBinary, benchPayload(n))}
			c := newConn(nc, nil, true, "", nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.ReadMessage(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWritePrepared writes a message encoded once, as a broadcast
// does. A server sends the cached frame; a client must mask with a fresh
// key, so it encodes again.
func BenchmarkWritePrepared(b *testing.B) {
	for _, role := range benchRoles {
		for _, n := range frameBenchSizes {
			b.Run(role.name+"/"+strconv.Itoa(n), func(b *testing.B) {
				c := newConn(&benchConn{}, nil, role.server, "", nil)
				pm, err := NewPreparedMessage(BinaryMessage, benchPayload(n))
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.WritePrepared(ctx, pm); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkNextWriter streams each message through NextWriter in writes of
// at most 1 KiB, which the writer gathers into fragments.
func BenchmarkNextWriter(b *testing.B) {
	const chunk = 1 << 10
	for _, role := range benchRoles {
		for _, n := range frameBenchSizes {
			b.Run(role.name+"/"+strconv.Itoa(n), func(b *testing.B) {
				c := newConn(&benchConn{}, nil, role.server, "", nil)
				ctx := context.Background()
				data := benchPayload(n)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					w, err := c.NextWriter(ctx, BinaryMessage)
					if err != nil {
						b.Fatal(err)
					}
					for p := data; len(p) > 0; {
						k := min(len(p), chunk)
						if _, err := w.Write(p[:k]); err != nil {
							b.Fatal(err)
						}
						p = p[k:]
					}
					if err := w.Close(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkEchoRoundTrip sends a binary message from a client to an echo
// server over loopback TCP and waits for the echo: both roles' read and
// write paths plus two trips through the kernel. SetBytes counts the
// payload once.
func BenchmarkEchoRoundTrip(b *testing.B) {
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		c, err := Accept(w, r, &AcceptOptions{ConnOptions: ConnOptions{ReadLimit: -1}})
		if err != nil {
			return
		}
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
	}))
	defer func() {
		srv.Close()
		wg.Wait()
	}()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	for _, n := range frameBenchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			ctx := context.Background()
			c, _, err := Dial(ctx, url, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(StatusNormalClosure, "")
			data := benchPayload(n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.WriteMessage(ctx, BinaryMessage, data); err != nil {
					b.Fatal(err)
				}
				if _, msg, err := c.ReadMessage(ctx); err != nil || len(msg) != n {
					b.Fatalf("ReadMessage: %v, %d bytes", err, len(msg))
				}
			}
		})
	}
}
