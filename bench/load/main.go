// Command load drives the BENCH.md scenarios against one running server
// and appends one JSON result line per run to -out; "load report" turns
// those lines into the markdown tables of results/latest.md.
//
//	load -mode echo -url ws://127.0.0.1:PORT -pid PID -server gorilla -size 64
//	load -mode broadcast|idle|handshake|handshake-close|chat ...
//	load -mode echo -tcp ...    (the plain TCP ceiling: raw bytes, no framing)
//	load report -in results/raw.jsonl -out results/latest.md
//
// The server's CPU time is read from /proc/PID/stat (utime+stime) and its
// memory from /proc/PID/status (VmRSS), so the load must run on the same
// machine as the server, ideally pinned to another CPU.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"
)

// config is one run's parameters.
type config struct {
	mode     string
	url      string // ws://host:port, without a path
	tcp      bool   // plain TCP server: raw bytes instead of WebSocket messages
	pid      int    // the server process
	server   string // its name in the results
	size     int
	conns    int
	count    int // handshakes
	window   int // broadcast: messages in flight
	conc     int // handshake concurrency
	warmup   time.Duration
	duration time.Duration
	settle   time.Duration
	sources  int           // loopback source addresses 127.0.0.1..127.0.0.N
	interval time.Duration // chat: time between publishes
	drain    time.Duration // chat: how long the last publish may take to reach every member
	ping     time.Duration // idle: the server's keepalive ping interval (0: off)
	pprof    string        // the server's net/http/pprof base URL, for its Go heap ("" if it has none)
}

// result is one run's figures; fields a scenario does not measure stay zero.
type result struct {
	Server     string  `json:"server"`
	Scenario   string  `json:"scenario"`
	Size       int     `json:"size,omitempty"`
	Conns      int     `json:"conns"`
	Count      int64   `json:"count"`   // messages, deliveries or handshakes measured
	Seconds    float64 `json:"seconds"` // wall time measured
	PerSecond  float64 `json:"per_second"`
	CPUSeconds float64 `json:"cpu_seconds"` // server CPU time in the window
	PerCPU     float64 `json:"per_cpu_second"`
	P50us      float64 `json:"p50_us,omitempty"`
	P99us      float64 `json:"p99_us,omitempty"`
	RSSBase    int64   `json:"rss_base,omitempty"`
	RSSAfter   int64   `json:"rss_after,omitempty"`
	PerConn    float64 `json:"bytes_per_conn,omitempty"`
	AcceptSec  float64 `json:"accept_seconds,omitempty"`
	HeapBase   int64   `json:"heap_base,omitempty"` // Go heap in use after a GC (idle, with -pprof)
	HeapAfter  int64   `json:"heap_after,omitempty"`
	HeapPer    float64 `json:"heap_bytes_per_conn,omitempty"`
	SockBase   int64   `json:"sock_mem_base,omitempty"` // the kernel's TCP buffer memory (/proc/net/sockstat), whole machine
	SockAfter  int64   `json:"sock_mem_after,omitempty"`
	SockPer    float64 `json:"sock_bytes_per_conn,omitempty"`
	SlabBase   int64   `json:"slab_base,omitempty"` // the kernel's slab memory (/proc/meminfo), whole machine
	SlabAfter  int64   `json:"slab_after,omitempty"`
	SlabPer    float64 `json:"slab_bytes_per_conn,omitempty"`
	IntervalUS int64   `json:"interval_us,omitempty"` // chat: time between publishes
	Published  int64   `json:"published,omitempty"`   // chat: publishes in the window
	Missing    int64   `json:"missing,omitempty"`     // chat: deliveries of those that never arrived
	Dropped    int64   `json:"dropped,omitempty"`     // chat: members the server closed
	Errors     int64   `json:"errors"`
	Time       string  `json:"time"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "report" {
		if err := report(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		return
	}
	var cfg config
	out := flag.String("out", "", "append the JSON result line to this file (default: stdout only)")
	flag.StringVar(&cfg.mode, "mode", "echo", "scenario: echo, broadcast, idle, handshake, handshake-close or chat")
	flag.StringVar(&cfg.url, "url", "ws://127.0.0.1:8888", "server base URL, without a path")
	flag.BoolVar(&cfg.tcp, "tcp", false, "plain TCP echo server (raw bytes)")
	flag.IntVar(&cfg.pid, "pid", 0, "server process id (CPU and memory are read from /proc)")
	flag.StringVar(&cfg.server, "server", "", "server name for the results")
	flag.IntVar(&cfg.size, "size", 64, "message size in bytes")
	flag.IntVar(&cfg.conns, "conns", 0, "connections (default per mode: echo 64, broadcast 1000, idle 10000, chat 19000)")
	flag.IntVar(&cfg.count, "count", 5000, "handshakes")
	flag.IntVar(&cfg.window, "window", 16, "broadcast: messages in flight")
	flag.IntVar(&cfg.conc, "concurrency", 32, "handshake concurrency")
	flag.DurationVar(&cfg.warmup, "warmup", 500*time.Millisecond, "load before measuring")
	flag.DurationVar(&cfg.duration, "duration", 3*time.Second, "measuring window")
	flag.DurationVar(&cfg.settle, "settle", 3*time.Second, "idle: wait before reading the server's memory")
	flag.IntVar(&cfg.sources, "sources", 8, "loopback source addresses to spread connections over")
	flag.DurationVar(&cfg.interval, "interval", 10*time.Millisecond, "chat: time between publishes")
	flag.DurationVar(&cfg.drain, "drain", 60*time.Second, "chat: how long, after the last publish, the members may take to receive it (deliveries later than that count as missing)")
	flag.DurationVar(&cfg.ping, "ping", 0, "idle: the server pings every this often; every connection then reads (and so answers), and the scenario is named idle-ping-N")
	flag.StringVar(&cfg.pprof, "pprof", "", "idle: the server's net/http/pprof URL (http://HOST:PORT/debug/pprof/), to read its Go heap")
	cpuProfile := flag.String("cpuprofile", "", "write the load generator's own CPU profile to this file (to check that it is not the limit)")
	flag.Parse()
	if cfg.pid == 0 {
		fmt.Fprintln(os.Stderr, "load: -pid is required")
		os.Exit(2)
	}
	if cfg.conns == 0 {
		cfg.conns = map[string]int{"echo": 64, "broadcast": 1000, "idle": 10000, "chat": 19000}[cfg.mode]
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
	}
	var res result
	var err error
	switch cfg.mode {
	case "echo":
		res, err = runEcho(cfg)
	case "broadcast":
		res, err = runBroadcast(cfg)
	case "idle":
		res, err = runIdle(cfg)
	case "handshake":
		res, err = runHandshake(cfg)
	case "handshake-close":
		res, err = runHandshakeClose(cfg)
	case "chat":
		res, err = runChat(cfg)
	default:
		err = fmt.Errorf("unknown mode %q", cfg.mode)
	}
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "load %s %s: %v\n", cfg.server, cfg.mode, err)
		os.Exit(1)
	}
	res.Server, res.Time = cfg.server, time.Now().UTC().Format(time.RFC3339)
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer f.Close()
		fmt.Fprintln(f, string(line))
	}
}
