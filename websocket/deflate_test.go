package websocket

import (
	"bufio"
	"bytes"
	stdflate "compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/internal/testenv"
)

// loopbackPair returns the two ends of a TCP connection over loopback, the
// dialing end first; both are closed when the test ends.
func loopbackPair(t testing.TB) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	b = <-accepted
	require.NotNil(t, b)
	t.Cleanup(func() {
		a.Close()
		b.Close()
	})
	return a, b
}

// sendMessages writes each payload to c with a 4-byte length prefix, on
// its own goroutine; the returned channel yields the write error.
func sendMessages(c net.Conn, payloads [][]byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(c)
		for _, p := range payloads {
			var n [4]byte
			binary.BigEndian.PutUint32(n[:], uint32(len(p)))
			w.Write(n[:])
			w.Write(p)
		}
		done <- w.Flush()
	}()
	return done
}

// nextMessage returns a reader for the next length-prefixed message on r.
func nextMessage(t testing.TB, r io.Reader) io.Reader {
	t.Helper()
	var n [4]byte
	_, err := io.ReadFull(r, n[:])
	require.NoError(t, err)
	return io.LimitReader(r, int64(binary.BigEndian.Uint32(n[:])))
}

// testMessages returns messages of many sizes whose content repeats
// across messages and within them at distances up to 64 KiB, so that
// both context takeover and the window limit matter.
func testMessages(seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while tornago sends json messages to every room member online typing status")
	phrase := func() []byte {
		var b []byte
		for range 2 + rng.IntN(8) {
			b = append(b, words[rng.IntN(len(words))]...)
			b = append(b, ' ')
		}
		return b
	}
	random := make([]byte, 70000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	var msgs [][]byte
	for _, size := range []int{0, 1, 5, 100, 127, 128, 300, 1000, 4095, 4096, 10000, 33000, 70000, 200, 2000, 120000, 50, 600} {
		var m []byte
		for len(m) < size {
			switch rng.IntN(4) {
			case 0:
				m = append(m, phrase()...)
			case 1:
				m = fmt.Appendf(m, `{"id":%d,"user":"u%d","text":"%s"}`, rng.IntN(1000), rng.IntN(50), phrase())
			case 2:
				// A chunk of the shared random block: a long-distance repeat.
				off := rng.IntN(len(random) - 600)
				m = append(m, random[off:off+1+rng.IntN(600)]...)
			default:
				if len(m) > 0 {
					// A repeat from earlier in this message, up to 64 KiB back.
					back := 1 + rng.IntN(min(len(m), 65536))
					start := len(m) - back
					m = append(m, m[start:start+min(back, 1+rng.IntN(300))]...)
				}
			}
		}
		msgs = append(msgs, m[:size])
	}
	return msgs
}

// inflateAll reads the whole message from f.
func inflateAll(f *inflater, src io.Reader) ([]byte, error) {
	f.start(src)
	out, err := io.ReadAll(f)
	f.finish()
	return out, err
}

// inflateSmallReads reads the whole message from f in reads of n bytes.
func inflateSmallReads(f *inflater, src io.Reader, n int) ([]byte, error) {
	f.start(src)
	defer f.finish()
	var out []byte
	buf := make([]byte, n)
	for {
		k, err := f.Read(buf)
		out = append(out, buf[:k]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// TestDeflateRoundTrip compresses messages with our deflater, sends them
// over TCP and decompresses them with our inflater, in every mode, at
// several levels and at every window size.
func TestDeflateRoundTrip(t *testing.T) {
	t.Parallel()
	msgs := testMessages(1)
	for _, takeover := range []bool{true, false} {
		for _, bits := range []int{8, 9, 10, 11, 12, 13, 14, 15} {
			for _, level := range []int{1, 5, 9} {
				if bits < 15 && level != 1 {
					continue // smaller windows use one fixed compressor
				}
				t.Run(fmt.Sprintf("takeover=%v/bits=%d/level=%d", takeover, bits, level), func(t *testing.T) {
					d := newDeflater(level, bits, takeover)
					defer d.release()
					var wire [][]byte
					var total, compressed int
					for _, m := range msgs {
						c, err := d.compress(nil, m)
						require.NoError(t, err)
						wire = append(wire, c)
						total += len(m)
						compressed += len(c)
					}
					a, b := loopbackPair(t)
					sent := sendMessages(a, wire)
					f := newInflater(bits, takeover)
					defer f.release()
					for i, m := range msgs {
						var got []byte
						var err error
						if i%2 == 0 {
							got, err = inflateAll(f, nextMessage(t, b))
						} else {
							got, err = inflateSmallReads(f, nextMessage(t, b), 1+i%13)
						}
						require.NoError(t, err, "message %d", i)
						require.True(t, bytes.Equal(m, got), "message %d of %d bytes differs", i, len(m))
					}
					require.NoError(t, <-sent)
					assert.Less(t, compressed, total, "compression ratio")
					t.Logf("%d bytes compressed to %d", total, compressed)
				})
			}
		}
	}
}

// TestDeflateAgainstStdlib checks both halves against compress/flate used
// on its own as the peer: its compressor feeds our inflater, and our
// deflater feeds its decompressor, over TCP, with and without context
// takeover.
func TestDeflateAgainstStdlib(t *testing.T) {
	t.Parallel()
	msgs := testMessages(2)
	for _, takeover := range []bool{true, false} {
		t.Run(fmt.Sprintf("stdlib-to-ours/takeover=%v", takeover), func(t *testing.T) {
			var wire [][]byte
			var buf bytes.Buffer
			fw, err := stdflate.NewWriter(&buf, 6)
			require.NoError(t, err)
			for _, m := range msgs {
				if !takeover {
					fw.Reset(&buf)
				}
				buf.Reset()
				_, err := fw.Write(m)
				require.NoError(t, err)
				require.NoError(t, fw.Flush())
				c := buf.Bytes()
				require.True(t, bytes.HasSuffix(c, deflateTail))
				wire = append(wire, bytes.Clone(c[:len(c)-4]))
			}
			a, b := loopbackPair(t)
			sent := sendMessages(a, wire)
			f := newInflater(15, takeover)
			defer f.release()
			for i, m := range msgs {
				got, err := inflateAll(f, nextMessage(t, b))
				require.NoError(t, err, "message %d", i)
				require.True(t, bytes.Equal(m, got), "message %d differs", i)
			}
			require.NoError(t, <-sent)
		})
		t.Run(fmt.Sprintf("ours-to-stdlib/takeover=%v", takeover), func(t *testing.T) {
			d := newDeflater(5, 15, takeover)
			defer d.release()
			a, b := loopbackPair(t)
			done := make(chan error, 1)
			go func() {
				// One stream: every message with its tail put back, as
				// a context-takeover receiver sees it.
				w := bufio.NewWriter(a)
				for _, m := range msgs {
					c, err := d.compress(nil, m)
					if err != nil {
						done <- err
						return
					}
					w.Write(c)
					w.Write(deflateTail)
				}
				done <- w.Flush()
			}()
			if takeover {
				fr := stdflate.NewReader(b)
				for i, m := range msgs {
					got := make([]byte, len(m))
					_, err := io.ReadFull(fr, got)
					require.NoError(t, err, "message %d", i)
					require.True(t, bytes.Equal(m, got), "message %d differs", i)
				}
			} else {
				// Without takeover each message decodes on its own:
				// a fresh decompressor per message.
				br := bufio.NewReader(b)
				for i, m := range msgs {
					fr := stdflate.NewReader(br)
					got := make([]byte, len(m))
					_, err := io.ReadFull(fr, got)
					require.NoError(t, err, "message %d", i)
					require.True(t, bytes.Equal(m, got), "message %d differs", i)
				}
			}
			require.NoError(t, <-done)
		})
	}
}

// TestDeflateRFCExamples decodes the examples of RFC 7692 section 7.2.3.
func TestDeflateRFCExamples(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		takeover bool
		payloads [][]byte
		want     []string
	}{
		{"hello", false, [][]byte{{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}}, []string{"Hello"}},
		{"shared sliding window", true, [][]byte{
			{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00},
			{0xf2, 0x00, 0x11, 0x00, 0x00},
		}, []string{"Hello", "Hello"}},
		{"no compression", false, [][]byte{{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}}, []string{"Hello"}},
		{"bfinal", false, [][]byte{{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}}, []string{"Hello"}},
		{"two blocks", false, [][]byte{{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}}, []string{"Hello"}},
		{"empty", false, [][]byte{{0x00}}, []string{""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := loopbackPair(t)
			sent := sendMessages(a, tc.payloads)
			f := newInflater(15, tc.takeover)
			defer f.release()
			for i, want := range tc.want {
				got, err := inflateAll(f, nextMessage(t, b))
				require.NoError(t, err)
				assert.Equal(t, want, string(got), "message %d", i)
			}
			require.NoError(t, <-sent)
		})
	}
	// What we send for an empty message is what the RFC shows.
	for _, takeover := range []bool{true, false} {
		c, err := newDeflater(1, 15, takeover).compress(nil, nil)
		require.NoError(t, err)
		assert.Equal(t, []byte{0x00}, c)
	}
}

// TestInflateSkippedMessageKeepsContext finishes a message without reading
// it: with context takeover the next message still decodes.
func TestInflateSkippedMessageKeepsContext(t *testing.T) {
	t.Parallel()
	msgs := testMessages(3)
	for _, takeover := range []bool{true, false} {
		t.Run(fmt.Sprintf("takeover=%v", takeover), func(t *testing.T) {
			d := newDeflater(1, 15, takeover)
			var wire [][]byte
			for _, m := range msgs {
				c, err := d.compress(nil, m)
				require.NoError(t, err)
				wire = append(wire, c)
			}
			a, b := loopbackPair(t)
			sent := sendMessages(a, wire)
			f := newInflater(15, takeover)
			for i, m := range msgs {
				src := nextMessage(t, b)
				f.start(src)
				if i%2 == 1 {
					// Read a little, then give up on the message.
					io.ReadFull(f, make([]byte, min(10, len(m))))
					f.finish()
					n, err := io.Copy(io.Discard, src)
					require.NoError(t, err)
					require.Zero(t, n, "finish left compressed bytes unread")
					continue
				}
				got, err := io.ReadAll(f)
				f.finish()
				require.NoError(t, err)
				require.True(t, bytes.Equal(m, got), "message %d differs", i)
			}
			require.NoError(t, <-sent)
		})
	}
}

// TestInflateErrors: corrupt data is errCorruptDeflate (→ 1007); a read
// error from the payload passes through unchanged; a truncated message
// is corrupt.
func TestInflateErrors(t *testing.T) {
	t.Parallel()
	good, err := compressOnce(1, 15, bytes.Repeat([]byte("tornago "), 1000))
	require.NoError(t, err)
	cases := []struct {
		name    string
		payload []byte
	}{
		{"reserved block type", []byte{0x07, 0x00}},
		{"stored length mismatch", []byte{0x00, 0x05, 0x00, 0x00, 0x00, 'h'}},
		{"distance beyond output", beyondWindow(t)},
		{"truncated", good[:len(good)/2]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := loopbackPair(t)
			sent := sendMessages(a, [][]byte{tc.payload})
			f := newInflater(15, true)
			defer f.release()
			_, err := inflateAll(f, nextMessage(t, b))
			require.ErrorIs(t, err, errCorruptDeflate)
			_, err = f.Read(make([]byte, 1))
			require.ErrorIs(t, err, errCorruptDeflate, "the error is sticky")
			require.NoError(t, <-sent)
		})
	}
	t.Run("read error passes through", func(t *testing.T) {
		a, b := loopbackPair(t)
		go func() {
			a.Write(good[:len(good)/2])
		}()
		b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		f := newInflater(15, false)
		defer f.release()
		_, err := inflateAll(f, b)
		require.Error(t, err)
		require.NotErrorIs(t, err, errCorruptDeflate)
		require.True(t, isTimeout(err), "want the deadline error, got %v", err)
	})
}

// TestInflateBomb reads a message that inflates to 1 GiB through a 10 MiB
// limit, as the connection's read limit does: decompression stops at the
// limit, reads only a sliver of the compressed input, and allocates a
// small constant beyond what the caller keeps.
func TestInflateBomb(t *testing.T) {
	const limit = 10 << 20
	for _, takeover := range []bool{true, false} {
		// Streaming the message to io.Discard: only the constant.
		alloc, _, consumed, bombLen := readBomb(t, takeover, func(r io.Reader) (int64, error) {
			return io.Copy(io.Discard, io.LimitReader(r, limit+1))
		})
		t.Logf("takeover=%v: 1 GiB bomb of %d compressed bytes read through a %d-byte limit to io.Discard: %d compressed bytes consumed, %d bytes allocated",
			takeover, bombLen, limit, consumed, alloc)
		assert.Less(t, consumed, bombLen/50, "inflation went past the limit")
		assert.Less(t, alloc, int64(256<<10), "allocation beyond a small constant")

		// Collecting the message into a buffer of the limit's size, as a
		// reader that knows its limit does: the buffer plus the constant.
		var msg []byte
		alloc, heap, _, _ := readBomb(t, takeover, func(r io.Reader) (int64, error) {
			msg = make([]byte, limit+1)
			n, err := io.ReadFull(r, msg)
			return int64(n), err
		})
		t.Logf("takeover=%v: collected %d bytes into a buffer: %d bytes allocated (limit + %d), heap in use grew %d bytes",
			takeover, len(msg), alloc, alloc-limit, heap)
		assert.Less(t, alloc, int64(limit+256<<10), "allocation beyond the message and a small constant")
		// Collecting with io.ReadAll, which grows its buffer by doubling:
		// that growth, not the inflater, dominates.
		alloc, heap, _, _ = readBomb(t, takeover, func(r io.Reader) (int64, error) {
			var err error
			msg, err = io.ReadAll(io.LimitReader(r, limit+1))
			return int64(len(msg)), err
		})
		t.Logf("takeover=%v: collected %d bytes with io.ReadAll: %d bytes allocated, heap in use grew %d bytes (%.2f × limit)",
			takeover, len(msg), alloc, heap, float64(heap)/limit)
		runtime.KeepAlive(msg)
	}
}

// readBomb sends a 1 GiB zero bomb over TCP and has read consume it
// through an inflater; it returns the bytes allocated and the growth of
// the heap in use during read, and the compressed bytes consumed.
func readBomb(t *testing.T, takeover bool, read func(io.Reader) (int64, error)) (alloc, heap, consumed, bombLen int64) {
	bomb, bombLen := zeroBomb(t, 1<<30)
	a, b := loopbackPair(t)
	go func() {
		io.Copy(a, bomb)
		a.Close()
	}()
	defer b.Close()
	src := &countingReader{r: io.LimitReader(b, bombLen)}
	f := newInflater(15, takeover)
	defer f.release()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f.start(src)
	n, err := read(f)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.EqualValues(t, 10<<20+1, n)
	return int64(after.TotalAlloc - before.TotalAlloc), int64(after.HeapInuse) - int64(before.HeapInuse), src.n, bombLen
}

// beyondWindow returns a message compressed against a preset dictionary,
// so that its matches reach before the start of the output.
func beyondWindow(t *testing.T) []byte {
	var buf bytes.Buffer
	dict := []byte("a dictionary the decoder does not have")
	fw, err := stdflate.NewWriterDict(&buf, 9, dict)
	require.NoError(t, err)
	fw.Write(dict)
	fw.Flush()
	return bytes.TrimSuffix(buf.Bytes(), deflateTail)
}

// zeroBomb returns a DEFLATE stream (sync-flushed, without the tail) that
// inflates to size zero bytes, produced lazily: one flushed chunk of
// zeros repeats, since it only refers to the zeros just before it.
func zeroBomb(t testing.TB, size int64) (io.Reader, int64) {
	const chunk = 1 << 20
	var buf bytes.Buffer
	fw, err := stdflate.NewWriter(&buf, 9)
	require.NoError(t, err)
	zeros := make([]byte, chunk)
	fw.Write(zeros)
	fw.Flush()
	first := bytes.Clone(buf.Bytes())
	buf.Reset()
	fw.Write(zeros)
	fw.Flush()
	next := bytes.Clone(buf.Bytes())
	count := size / chunk
	readers := []io.Reader{bytes.NewReader(first)}
	total := int64(len(first))
	for range count - 1 {
		readers = append(readers, bytes.NewReader(next))
		total += int64(len(next))
	}
	return io.MultiReader(readers...), total
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestDeflateWindowPython checks with zlib, a decoder that refuses any
// match reaching past its window, that a deflater with window bits N never
// refers further back than 2^N bytes, over many messages in both modes.
// Python connects over TCP, inflates each message with
// zlib.decompressobj(-N) and sends the result back.
func TestDeflateWindowPython(t *testing.T) {
	py := testenv.Python(t, "zlib")
	const script = `
import socket, struct, sys, zlib
bits, takeover, port = int(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rwb")
d = zlib.decompressobj(-bits)
while True:
    h = f.read(4)
    if len(h) < 4:
        break
    data = f.read(struct.unpack(">I", h)[0]) + b"\x00\x00\xff\xff"
    if not takeover:
        d = zlib.decompressobj(-bits)
    try:
        out = d.decompress(data)
    except zlib.error as e:
        out = b"ERROR " + str(e).encode()
        f.write(struct.pack(">I", len(out) | 0x80000000) + out)
        f.flush()
        break
    f.write(struct.pack(">I", len(out)) + out)
    f.flush()
`
	msgs := testMessages(4)
	for _, takeover := range []bool{true, false} {
		for bits := 8; bits <= 15; bits++ {
			t.Run(fmt.Sprintf("bits=%d/takeover=%v", bits, takeover), func(t *testing.T) {
				t.Parallel()
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				defer ln.Close()
				tk := "0"
				if takeover {
					tk = "1"
				}
				cmd := exec.Command(py, "-c", script, fmt.Sprint(bits), tk, fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				require.NoError(t, cmd.Start())
				defer cmd.Wait()
				c, err := ln.Accept()
				require.NoError(t, err)
				defer c.Close()
				c.SetDeadline(time.Now().Add(time.Minute))
				d := newDeflater(9, bits, takeover)
				defer d.release()
				var wire [][]byte
				for _, m := range msgs {
					cm, err := d.compress(nil, m)
					require.NoError(t, err)
					wire = append(wire, cm)
				}
				sent := sendMessages(c, wire)
				br := bufio.NewReader(c)
				for i, m := range msgs {
					var h [4]byte
					_, err := io.ReadFull(br, h[:])
					if err != nil {
						c.Close()
						cmd.Wait()
						require.NoError(t, err, "python: %s", stderr.String())
					}
					n := binary.BigEndian.Uint32(h[:])
					got := make([]byte, n&^0x80000000)
					_, err = io.ReadFull(br, got)
					require.NoError(t, err)
					require.Zero(t, n&0x80000000, "zlib rejected message %d: %s", i, got)
					require.True(t, bytes.Equal(m, got), "message %d differs", i)
				}
				require.NoError(t, <-sent)
				c.(*net.TCPConn).CloseWrite()
			})
		}
	}
}

// TestCompressOnceShared compresses a message once and has several
// no-context-takeover receivers, mid-conversation, decode it.
func TestCompressOnceShared(t *testing.T) {
	t.Parallel()
	msgs := testMessages(5)
	shared, err := compressOnce(0, 0, msgs[9])
	require.NoError(t, err)
	for _, level := range []int{1, 6} {
		for _, bits := range []int{10, 15} {
			c, err := compressOnce(level, bits, msgs[9])
			require.NoError(t, err)
			receivers := make([]*inflater, 3)
			for i := range receivers {
				receivers[i] = newInflater(bits, false)
				for _, m := range msgs[:i] {
					cm, err := compressOnce(1, bits, m)
					require.NoError(t, err)
					_, err = inflateAll(receivers[i], bytes.NewReader(cm))
					require.NoError(t, err)
				}
			}
			for _, f := range receivers {
				for _, p := range [][]byte{c, shared} {
					got, err := inflateAll(f, bytes.NewReader(p))
					require.NoError(t, err)
					require.True(t, bytes.Equal(msgs[9], got))
				}
			}
		}
	}
}

// TestDeflaterRelease: a context-takeover deflater that released its
// compressor while idle goes on producing a stream its peer decodes.
func TestDeflaterRelease(t *testing.T) {
	t.Parallel()
	msgs := testMessages(6)
	d := newDeflater(1, 12, true)
	f := newInflater(12, true)
	defer f.release()
	for i, m := range msgs {
		c, err := d.compress(nil, m)
		require.NoError(t, err)
		got, err := inflateAll(f, bytes.NewReader(c))
		require.NoError(t, err)
		require.True(t, bytes.Equal(m, got), "message %d differs", i)
		if i%3 == 0 {
			d.release()
		}
	}
	d.release()
}

// TestDeflateAppends: compress appends to dst and leaves its prefix alone.
func TestDeflateAppends(t *testing.T) {
	t.Parallel()
	prefix := []byte("header")
	for _, takeover := range []bool{true, false} {
		for _, level := range []int{1, 6} {
			d := newDeflater(level, 15, takeover)
			out, err := d.compress(bytes.Clone(prefix), []byte(strings.Repeat("abc", 100)))
			require.NoError(t, err)
			require.True(t, bytes.HasPrefix(out, prefix))
			got, err := inflateAll(newInflater(15, false), bytes.NewReader(out[len(prefix):]))
			require.NoError(t, err)
			require.Equal(t, strings.Repeat("abc", 100), string(got))
			d.release()
		}
	}
}

// TestInflaterMisuse: reads outside a message and after release fail
// instead of panicking.
func TestInflaterMisuse(t *testing.T) {
	t.Parallel()
	f := newInflater(15, false)
	_, err := f.Read(make([]byte, 1))
	require.ErrorIs(t, err, errInflateNotStarted)
	f.finish()
	f.release()
	got, err := inflateAll(f, bytes.NewReader([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}))
	require.NoError(t, err)
	require.Equal(t, "Hello", string(got))

	g := newInflater(15, true)
	g.release()
	g.start(bytes.NewReader([]byte{0x00}))
	_, err = g.Read(make([]byte, 1))
	require.Error(t, err, "a released context-takeover inflater has lost its window")
	g.finish()
}

func TestCompressionOptionsDefaults(t *testing.T) {
	t.Parallel()
	var o CompressionOptions
	assert.Equal(t, 1, o.level())
	assert.Equal(t, DefaultCompressionThreshold, o.threshold())
	o = CompressionOptions{Level: 12, Threshold: -1}
	assert.Equal(t, 9, o.level())
	assert.Equal(t, 0, o.threshold())
	o.Threshold = 1000
	assert.Equal(t, 1000, o.threshold())
	assert.Equal(t, 15, normWindowBits(0))
	assert.Equal(t, 8, normWindowBits(3))
	assert.Equal(t, 15, normWindowBits(20))
	assert.Equal(t, 10, normWindowBits(10))
}

// FuzzInflate feeds arbitrary data to the inflater as one or two
// messages: it must not panic, must not return more than the limit it is
// read through, and must report any failure as corrupt data.
func FuzzInflate(f *testing.F) {
	for _, m := range testMessages(7)[:10] {
		c, _ := compressOnce(1, 15, m)
		f.Add(c, uint16(len(c)/2), true)
	}
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, uint16(0), false)
	f.Add([]byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0xf2, 0x00, 0x11, 0x00, 0x00}, uint16(8), true)
	bomb, _ := zeroBomb(f, 8<<20)
	b, _ := io.ReadAll(bomb)
	f.Add(b, uint16(100), true)
	const limit = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte, split uint16, takeover bool) {
		cut := min(int(split), len(data))
		for _, bits := range []int{8, 15} {
			inf := newInflater(bits, takeover)
			for _, msg := range [][]byte{data[:cut], data[cut:]} {
				inf.start(bytes.NewReader(msg))
				n, err := io.Copy(io.Discard, io.LimitReader(inf, limit+1))
				if n > limit+1 {
					t.Fatalf("read %d bytes through a limit of %d", n, limit+1)
				}
				inf.finish()
				if err != nil {
					if !errors.Is(err, errCorruptDeflate) {
						t.Fatalf("error not marked corrupt: %v", err)
					}
					break
				}
			}
			inf.release()
		}
	})
}
