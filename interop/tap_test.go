package interop

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"sync"
)

// tapFrame is a frame header seen on the wire.
type tapFrame struct {
	fin    bool
	opcode byte
	length int64
}

// frameTap wraps our side's net.Conn and records the header of every frame
// our side writes, so that tests can see how a message was framed (which
// no foreign library reports). It skips the HTTP handshake that precedes
// the frames.
type frameTap struct {
	net.Conn

	mu       sync.Mutex
	inHTTP   bool   // still inside the handshake's HTTP head
	tail     []byte // last bytes of the HTTP head, to find its end
	hdr      []byte // a frame header being assembled
	skip     int64  // payload bytes of the current frame still to pass
	frames   []tapFrame
	consumed int // frames already returned by take
}

func newFrameTap(c net.Conn) *frameTap { return &frameTap{Conn: c, inHTTP: true} }

func (f *frameTap) Write(p []byte) (int, error) {
	n, err := f.Conn.Write(p)
	f.mu.Lock()
	f.feed(p[:n])
	f.mu.Unlock()
	return n, err
}

func (f *frameTap) feed(p []byte) {
	for len(p) > 0 {
		switch {
		case f.inHTTP:
			f.tail = append(f.tail, p[0])
			p = p[1:]
			if len(f.tail) > 4 {
				f.tail = f.tail[1:]
			}
			if bytes.Equal(f.tail, []byte("\r\n\r\n")) {
				f.inHTTP = false
			}
		case f.skip > 0:
			k := min(int64(len(p)), f.skip)
			p = p[k:]
			f.skip -= k
		default:
			f.hdr = append(f.hdr, p[0])
			p = p[1:]
			if fr, ok := parseTapHeader(f.hdr); ok {
				f.frames = append(f.frames, fr)
				f.skip = fr.length
				f.hdr = f.hdr[:0]
			}
		}
	}
}

// parseTapHeader decodes h once it holds a whole header (RFC 6455 section
// 5.2).
func parseTapHeader(h []byte) (tapFrame, bool) {
	if len(h) < 2 {
		return tapFrame{}, false
	}
	need := 2
	switch h[1] & 0x7f {
	case 126:
		need += 2
	case 127:
		need += 8
	}
	if h[1]&0x80 != 0 {
		need += 4
	}
	if len(h) < need {
		return tapFrame{}, false
	}
	fr := tapFrame{fin: h[0]&0x80 != 0, opcode: h[0] & 0x0f, length: int64(h[1] & 0x7f)}
	switch fr.length {
	case 126:
		fr.length = int64(binary.BigEndian.Uint16(h[2:]))
	case 127:
		fr.length = int64(binary.BigEndian.Uint64(h[2:]))
	}
	return fr, true
}

// CloseWrite passes through to the TCP connection, so that wrapping does
// not change how our side shuts a connection down.
func (f *frameTap) CloseWrite() error {
	if cw, ok := f.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// take returns the frames written since the last take.
func (f *frameTap) take() []tapFrame {
	f.mu.Lock()
	defer f.mu.Unlock()
	fs := append([]tapFrame(nil), f.frames[f.consumed:]...)
	f.consumed = len(f.frames)
	return fs
}

// tapListener wraps every accepted connection in a frameTap and hands the
// tap to taps.
type tapListener struct {
	net.Listener
	taps chan *frameTap
}

func (l *tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tap := newFrameTap(c)
	select {
	case l.taps <- tap:
	default:
	}
	return tap, nil
}
