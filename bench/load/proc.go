package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tornago/tornago/websocket"
)

// ticksPerSecond is USER_HZ, the unit of utime and stime in /proc/PID/stat
// (100 on every Linux architecture Go supports).
const ticksPerSecond = 100

// cpuSeconds returns the CPU time (user + system) pid has used so far.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it do not.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return float64(utime+stime) / ticksPerSecond, nil
}

// rss returns pid's resident set size in bytes (VmRSS).
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// sourceCounter spreads connections over loopback source addresses, so
// that tens of thousands of them do not exhaust one address's ports.
var sourceCounter atomic.Uint32

// netDial dials addr from the next loopback source address.
func netDial(ctx context.Context, sources int, addr string) (net.Conn, error) {
	i := sourceCounter.Add(1) % uint32(max(sources, 1))
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}}
	return d.DialContext(ctx, "tcp", addr)
}

// dialWS opens a WebSocket to cfg.url+path from the next source address.
func dialWS(ctx context.Context, cfg config, path string) (*websocket.Conn, error) {
	c, _, err := websocket.Dial(ctx, cfg.url+path, &websocket.DialOptions{
		NetDialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return netDial(ctx, cfg.sources, addr)
		},
	})
	return c, err
}

// hostPort is cfg.url without its scheme.
func hostPort(cfg config) string {
	_, hp, _ := strings.Cut(cfg.url, "://")
	return hp
}

// readInto reads the rest of a message from r into buf and returns its length.
func readInto(r io.Reader, buf []byte) (int, error) {
	n := 0
	for {
		if n == len(buf) {
			return n, fmt.Errorf("message longer than %d bytes", len(buf))
		}
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// percentile returns the p-th percentile (0..1) of sorted durations, in µs.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return float64(sorted[i]) / float64(time.Microsecond)
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}

// goHeap returns the Go heap in use (runtime.MemStats.HeapAlloc) of the
// server whose net/http/pprof handlers are at base, after two garbage
// collections: objects in a sync.Pool outlive the first (in the pool's
// victim cache), so the second leaves what the connections themselves
// hold; what the pools keep between uses shows in the RSS. 0 when base
// is "".
func goHeap(base string) (int64, error) {
	if base == "" {
		return 0, nil
	}
	var heap int64
	for range 2 {
		var err error
		if heap, err = heapAlloc(strings.TrimSuffix(base, "/") + "/heap?gc=1&debug=1"); err != nil {
			return 0, err
		}
	}
	return heap, nil
}

// heapAlloc reads HeapAlloc from a heap profile in text form (debug=1).
func heapAlloc(url string) (int64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, fmt.Errorf("reading the server's heap profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("reading the server's heap profile: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no HeapAlloc in the server's heap profile")
}

// tcpSocketMemory returns the memory the kernel holds in TCP socket
// buffers, machine-wide (the "mem" pages of the TCP line of
// /proc/net/sockstat). A loopback connection has both its ends on this
// machine, so the load generator's sockets count as well as the server's.
func tcpSocketMemory() (int64, error) {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "TCP:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		for i := 0; i+1 < len(f); i += 2 {
			if f[i] == "mem" {
				pages, err := strconv.ParseInt(f[i+1], 10, 64)
				return pages * int64(os.Getpagesize()), err
			}
		}
	}
	return 0, errors.New("no TCP mem in /proc/net/sockstat")
}

// kernelSlab returns the kernel's slab memory, machine-wide (Slab in
// /proc/meminfo): where the sockets' own structures (TCP control blocks,
// files, inodes) live, beside the buffer pages tcpSocketMemory counts.
func kernelSlab() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Slab:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no Slab in /proc/meminfo")
}
