package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// acceptGUID is RFC 6455's fixed string for Sec-WebSocket-Accept (4.2.2).
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// handshakeTimeout bounds one connection of the handshake-close scenario,
// from the TCP connect to the server's close reply.
const handshakeTimeout = 10 * time.Second

// runHandshakeClose is a reconnect storm: cfg.count connections to /echo,
// cfg.conc at a time, each a TCP connect, an upgrade request, the 101
// read and its Sec-WebSocket-Accept checked, a masked close frame (1000),
// then the server's close frame or its TCP close awaited, then our TCP
// close. It is written on the raw socket, so that what the load generator
// does per connection is fixed here and not by a client library; the
// "handshake" scenario does the same through tornago's own client.
func runHandshakeClose(cfg config) (result, error) {
	ctx := context.Background()
	var next, errs atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	cpu0, err := cpuSeconds(cfg.pid)
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	for range cfg.conc {
		wg.Go(func() {
			h := newRawHandshaker(hostPort(cfg))
			for next.Add(1) <= int64(cfg.count) {
				if err := h.run(ctx, cfg.sources); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	cpu1, err := cpuSeconds(cfg.pid)
	if err != nil {
		return result{}, err
	}
	if p := firstErr.Load(); p != nil && errs.Load() == int64(cfg.count) {
		return result{}, fmt.Errorf("every handshake failed, the first with: %w", *p)
	}
	return handshakeResult("handshake-close", cfg, errs.Load(), wall, cpu1-cpu0), nil
}

// rawHandshaker runs handshake-close connections one after another, with
// its own buffers and key source (one per goroutine).
type rawHandshaker struct {
	addr string
	rng  *rand.ChaCha8
	req  []byte
	br   *bufio.Reader
}

func newRawHandshaker(addr string) *rawHandshaker {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], rand.Uint64())
	binary.LittleEndian.PutUint64(seed[8:], rand.Uint64())
	return &rawHandshaker{addr: addr, rng: rand.NewChaCha8(seed), br: bufio.NewReaderSize(nil, 1024)}
}

// run is one connection: upgrade, close handshake, TCP close.
func (h *rawHandshaker) run(ctx context.Context, sources int) error {
	nc, err := netDial(ctx, sources, h.addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := nc.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		return err
	}
	var raw [16]byte
	_, _ = h.rng.Read(raw[:]) // ChaCha8.Read does not fail
	key := base64.StdEncoding.EncodeToString(raw[:])
	h.req = fmt.Appendf(h.req[:0], "GET /echo HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", h.addr, key)
	if _, err := nc.Write(h.req); err != nil {
		return fmt.Errorf("writing the upgrade request: %w", err)
	}
	h.br.Reset(nc)
	if err := readSwitchingProtocols(h.br, key); err != nil {
		return err
	}
	if _, err := nc.Write(h.closeFrame()); err != nil {
		return fmt.Errorf("writing the close frame: %w", err)
	}
	return awaitClose(h.br)
}

// closeFrame is a masked client close frame with code 1000 and a fresh key.
func (h *rawHandshaker) closeFrame() []byte {
	f := []byte{0x88, 0x80 | 2, 0, 0, 0, 0, 0x03, 0xe8} // FIN+close, masked, 2 bytes: 1000
	_, _ = h.rng.Read(f[2:6])
	f[6] ^= f[2]
	f[7] ^= f[3]
	return f
}

// readSwitchingProtocols reads the response head and checks that it is a
// 101 with the Sec-WebSocket-Accept that key calls for.
func readSwitchingProtocols(br *bufio.Reader, key string) error {
	status, err := br.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("reading the status line: %w", err)
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 101 ")) {
		return fmt.Errorf("status %q, want 101", bytes.TrimSpace(status))
	}
	sum := sha1.Sum([]byte(key + acceptGUID))
	want := base64.StdEncoding.EncodeToString(sum[:])
	accepted := false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("reading the response header: %w", err)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		if bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")) {
			accepted = string(bytes.TrimSpace(value)) == want
		}
	}
	if !accepted {
		return errors.New("no or wrong Sec-WebSocket-Accept in the 101")
	}
	return nil
}

// awaitClose reads frames until the server's close frame or the end of
// the TCP stream, whichever comes first; anything else is skipped.
func awaitClose(br *bufio.Reader) error {
	for {
		var head [2]byte
		if _, err := io.ReadFull(br, head[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
				return nil // the server closed TCP: also an end of the handshake
			}
			return fmt.Errorf("awaiting the close reply: %w", err)
		}
		if head[0]&0x0f == 0x8 {
			return nil
		}
		n := int64(head[1] & 0x7f)
		switch n {
		case 126:
			var ext [2]byte
			if _, err := io.ReadFull(br, ext[:]); err != nil {
				return err
			}
			n = int64(binary.BigEndian.Uint16(ext[:]))
		case 127:
			var ext [8]byte
			if _, err := io.ReadFull(br, ext[:]); err != nil {
				return err
			}
			n = int64(binary.BigEndian.Uint64(ext[:]) & (1<<63 - 1))
		}
		if _, err := br.Discard(int(n)); err != nil {
			return err
		}
	}
}

// isReset reports a connection reset: a server that closes TCP without
// reading our close frame makes the kernel answer with RST.
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
