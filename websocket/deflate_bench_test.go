package websocket

import (
	"bufio"
	"bytes"
	stdflate "compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// benchJSON returns about n bytes of chat-like JSON lines.
func benchJSON(n int) []byte { return benchJSONSeed(n, 0) }

// benchJSONSeed is benchJSON with other content for each seed.
func benchJSONSeed(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(uint64(n), 9+seed))
	words := []string{"hello", "world", "room", "typing", "online", "tornago", "message", "status", "ok", "lunch"}
	var b []byte
	for len(b) < n {
		b = fmt.Appendf(b, `{"type":"%s","room":"r%d","user":"u%d","text":"%s %s","ts":%d}`+"\n",
			words[rng.IntN(10)], rng.IntN(20), rng.IntN(500), words[rng.IntN(10)], words[rng.IntN(10)], 1700000000+rng.IntN(1e6))
	}
	return b[:n]
}

var deflateBenchSizes = []int{256, 4096, 65536}

// BenchmarkDeflateCompress compares our deflater with compress/flate used
// the same way (a writer kept per connection with context takeover, a
// pooled one reset per message without), reporting the compressed size
// as a fraction of the input. Messages cycle through different payloads,
// 64 KiB of them, so that context takeover is not flattered by repeats
// within its 32 KiB window.
func BenchmarkDeflateCompress(b *testing.B) {
	for _, n := range deflateBenchSizes {
		payloads := make([][]byte, max(16, 65536/n))
		for i := range payloads {
			payloads[i] = benchJSONSeed(n, uint64(i))
		}
		for _, takeover := range []bool{false, true} {
			for _, level := range []int{1, 6} {
				b.Run(fmt.Sprintf("size=%d/takeover=%v/level=%d/ours", n, takeover, level), func(b *testing.B) {
					d := newDeflater(level, 15, takeover)
					defer d.release()
					var out []byte
					var err error
					var i, total int
					b.SetBytes(int64(n))
					b.ReportAllocs()
					for b.Loop() {
						if out, err = d.compress(out[:0], payloads[i%len(payloads)]); err != nil {
							b.Fatal(err)
						}
						i++
						total += len(out)
					}
					b.ReportMetric(float64(total)/float64(i*n), "ratio")
				})
				b.Run(fmt.Sprintf("size=%d/takeover=%v/level=%d/compress-flate", n, takeover, level), func(b *testing.B) {
					var pool sync.Pool
					var buf bytes.Buffer
					kept, _ := stdflate.NewWriter(&buf, level)
					var i, total int
					b.SetBytes(int64(n))
					b.ReportAllocs()
					for b.Loop() {
						buf.Reset()
						fw := kept
						if !takeover {
							if v, ok := pool.Get().(*stdflate.Writer); ok {
								fw = v
								fw.Reset(&buf)
							} else {
								fw, _ = stdflate.NewWriter(&buf, level)
							}
						}
						fw.Write(payloads[i%len(payloads)])
						fw.Flush()
						if !takeover {
							pool.Put(fw)
						}
						i++
						total += buf.Len() - 4
					}
					b.ReportMetric(float64(total)/float64(i*n), "ratio")
				})
			}
		}
	}
}

// BenchmarkDeflateInflate compares our inflater with compress/flate's
// decompressor reset per message, as a connection reading one message
// after another does.
func BenchmarkDeflateInflate(b *testing.B) {
	for _, n := range deflateBenchSizes {
		p := benchJSON(n)
		c, err := compressOnce(6, 15, p)
		if err != nil {
			b.Fatal(err)
		}
		out := make([]byte, 4096)
		for _, takeover := range []bool{false, true} {
			b.Run(fmt.Sprintf("size=%d/takeover=%v/ours", n, takeover), func(b *testing.B) {
				f := newInflater(15, takeover)
				defer f.release()
				src := bytes.NewReader(c)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					src.Reset(c)
					f.start(src)
					for {
						if _, err := f.Read(out); err == io.EOF {
							break
						} else if err != nil {
							b.Fatal(err)
						}
					}
					f.finish()
				}
			})
		}
		b.Run(fmt.Sprintf("size=%d/compress-flate", n), func(b *testing.B) {
			msg := append(bytes.Clone(c), inflateEnd...)
			src := bytes.NewReader(msg)
			br := bufio.NewReaderSize(src, inflateReadSize)
			fr := stdflate.NewReader(br)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(msg)
				br.Reset(src)
				fr.(stdflate.Resetter).Reset(br, nil)
				for {
					if _, err := fr.Read(out); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkDeflateMemoryPerConn measures what an idle connection keeps
// after one message each way: the heap retained per connection by its
// deflater and inflater, in each mode, for a small and a large message,
// and with context takeover also after the deflater's idle release.
func BenchmarkDeflateMemoryPerConn(b *testing.B) {
	const conns = 200
	type mode struct {
		name     string
		takeover bool
		bits     int
		release  bool
	}
	modes := []mode{
		{"no-context-takeover", false, 15, false},
		{"context-takeover", true, 15, false},
		{"context-takeover/idle-release", true, 15, true},
		{"context-takeover/window=10", true, 10, false},
		{"context-takeover/window=10/idle-release", true, 10, true},
	}
	for _, size := range []int{1024, 65536} {
		msg := benchJSON(size)
		for _, m := range modes {
			b.Run(fmt.Sprintf("msg=%d/%s", size, m.name), func(b *testing.B) {
				var perConn float64
				for b.Loop() {
					type conn struct {
						d *deflater
						f *inflater
					}
					cs := make([]conn, conns)
					// Two collections empty the pools, so that nothing
					// pooled before is counted as already there.
					runtime.GC()
					runtime.GC()
					var before, after runtime.MemStats
					runtime.ReadMemStats(&before)
					for i := range cs {
						d := newDeflater(1, m.bits, m.takeover)
						f := newInflater(m.bits, m.takeover)
						c, err := d.compress(nil, msg)
						if err != nil {
							b.Fatal(err)
						}
						if _, err := inflateAll(f, bytes.NewReader(c)); err != nil {
							b.Fatal(err)
						}
						if m.release {
							d.release()
						}
						cs[i] = conn{d, f}
					}
					// Pools are emptied by two collections, so what is
					// left is what the connections hold.
					runtime.GC()
					runtime.GC()
					runtime.ReadMemStats(&after)
					perConn = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / conns
					runtime.KeepAlive(cs)
					for _, c := range cs {
						c.d.release()
						c.f.release()
					}
				}
				b.ReportMetric(perConn, "B/conn")
			})
		}
	}
}
