package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// server is a column of the tables: its name in the results and its label.
type server struct{ name, label string }

var (
	tornagoVariants = []server{{"tornago", "tornago (handler)"}, {"tornago-core", "tornago (core)"}}
	peers           = []server{{"gorilla", "gorilla"}, {"coder", "coder"}, {"gws", "gws"}, {"gobwas", "gobwas"}, {"tornado", "Tornado"}, {"tcp", "plain TCP"}}
	allServers      = append(append([]server{}, tornagoVariants...), peers...)
)

// scenario is a row of the summary: which result and which figure.
type scenario struct {
	key, label string
	lowerWins  bool // memory and latency: less is better
	figure     func(result) float64
	format     func(float64) string
}

func perCPU(r result) float64  { return r.PerCPU }
func perConn(r result) float64 { return r.PerConn }
func p99(r result) float64     { return r.P99us }

var scenarios = []scenario{
	{"echo-64", "echo 64 B, msgs per server CPU-s", false, perCPU, human},
	{"echo-4096", "echo 4 KiB, msgs per server CPU-s", false, perCPU, human},
	{"echo-65536", "echo 64 KiB, msgs per server CPU-s", false, perCPU, human},
	{"broadcast", "broadcast to 1,000, deliveries per server CPU-s", false, perCPU, human},
	{"idle", "idle memory, bytes per connection", true, perConn, human},
	{"handshake", "handshakes (tornago's client) per server CPU-s", false, perCPU, human},
	{"handshake-close", "handshakes + close (raw client) per server CPU-s", false, perCPU, human},
	{"chat", "chat room of 19,000, deliveries per server CPU-s", false, perCPU, human},
	{"chat", "chat room of 19,000, p99 publish-to-receipt", true, p99, micros},
}

// scenarioOf returns the first summary row of key: the figure by which
// its rounds are ordered.
func scenarioOf(key string) scenario {
	for _, s := range scenarios {
		if s.key == key {
			return s
		}
	}
	if strings.HasPrefix(key, "idle") {
		return scenario{key, key, true, perConn, human}
	}
	return scenario{key, key, false, perCPU, human}
}

// stat is a figure over the rounds of a cell: the median (with an even
// number of rounds, the better of the two middle ones, so that it is a
// measured round) and the spread, min to max.
type stat struct {
	median, min, max float64
	n                int
}

// medianIndex is the index of the median in n sorted figures.
func medianIndex(n int, lowerWins bool) int {
	if lowerWins && n%2 == 0 {
		return n/2 - 1
	}
	return n / 2
}

func statOf(rs []result, fig func(result) float64, lowerWins bool) stat {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = fig(r)
	}
	slices.Sort(xs)
	return stat{median: xs[medianIndex(len(xs), lowerWins)], min: xs[0], max: xs[len(xs)-1], n: len(xs)}
}

// medianRound is the round whose figure is the cell's median: the one the
// detail tables show.
func medianRound(rs []result, s scenario) result {
	sorted := slices.Clone(rs)
	slices.SortStableFunc(sorted, func(a, b result) int { return cmp.Compare(s.figure(a), s.figure(b)) })
	return sorted[medianIndex(len(sorted), s.lowerWins)]
}

// withSpread formats a stat as "median (min–max)", or the figure alone
// for one round.
func withSpread(st stat, format func(float64) string) string {
	if st.n == 1 {
		return format(st.median)
	}
	return fmt.Sprintf("%s (%s–%s)", format(st.median), format(st.min), format(st.max))
}

// spread formats the min–max of a stat, "—" for one round.
func spread(st stat, format func(float64) string) string {
	if st.n == 1 {
		return "—"
	}
	return format(st.min) + "–" + format(st.max)
}

// report reads result lines and writes the markdown tables: every cell
// is the median of its rounds, with their spread.
func report(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fs.String("in", "results/raw.jsonl", "result lines")
	out := fs.String("out", "", "markdown output (default stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	cells := map[[2]string][]result{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return err
		}
		k := [2]string{r.Server, r.Scenario}
		cells[k] = append(cells[k], r)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	w := io.Writer(os.Stdout)
	if *out != "" {
		o, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer o.Close()
		w = o
	}
	writeReport(w, cells)
	return nil
}

func writeReport(w io.Writer, cells map[[2]string][]result) {
	rounds := func(srv, key string) []result { return cells[[2]string{srv, key}] }
	// get returns the median round of a cell, ordered by its scenario's figure.
	get := func(srv, key string) (result, bool) {
		rs := rounds(srv, key)
		if len(rs) == 0 {
			return result{}, false
		}
		return medianRound(rs, scenarioOf(key)), true
	}
	// figure returns the stat of s's figure over a cell's rounds.
	figure := func(srv string, s scenario) (stat, bool) {
		rs := rounds(srv, s.key)
		if len(rs) == 0 {
			return stat{}, false
		}
		return statOf(rs, s.figure, s.lowerWins), true
	}
	// measured reports whether any server ran key; tables of scenarios
	// left out of the run (run.sh's ONLY) are left out too.
	measured := func(key string) bool {
		return slices.ContainsFunc(allServers, func(s server) bool { return len(rounds(s.name, key)) > 0 })
	}
	maxRounds := 0
	for _, rs := range cells {
		maxRounds = max(maxRounds, len(rs))
	}
	fmt.Fprintf(w, "Median of up to %d round(s) per cell (with an even number of rounds, the better of the two middle ones), the spread over the rounds (min–max) in parentheses or its own column; the detail rows are each cell's median round. \"—\": not applicable or not measured.\n\n", maxRounds)

	// Summary, one figure per scenario and server.
	fmt.Fprintf(w, "### Summary\n\n| scenario |")
	for _, s := range allServers {
		fmt.Fprintf(w, " %s |", s.label)
	}
	fmt.Fprintf(w, "\n| --- |%s\n", strings.Repeat(" ---: |", len(allServers)))
	for _, s := range scenarios {
		if !measured(s.key) {
			continue
		}
		fmt.Fprintf(w, "| %s |", s.label)
		for _, srv := range allServers {
			if st, ok := figure(srv.name, s); ok {
				fmt.Fprintf(w, " %s |", withSpread(st, s.format))
			} else {
				fmt.Fprintf(w, " — |")
			}
		}
		fmt.Fprintln(w)
	}

	// Ratios of each tornago variant to every peer, median to median.
	ratio := func(v, peer string, s scenario) (float64, bool) {
		t, ok1 := figure(v, s)
		p, ok2 := figure(peer, s)
		if !ok1 || !ok2 || p.median == 0 {
			return 0, false
		}
		return t.median / p.median, true
	}
	fmt.Fprintf(w, "\n### Ratios: tornago ÷ peer (medians of the summary; above 1 is better except for memory and latency, where below 1 is better)\n\n| scenario | tornago |")
	for _, p := range peers {
		fmt.Fprintf(w, " vs %s |", p.label)
	}
	fmt.Fprintf(w, "\n| --- | --- |%s\n", strings.Repeat(" ---: |", len(peers)))
	for _, s := range scenarios {
		for _, v := range tornagoVariants {
			if _, ok := figure(v.name, s); !ok {
				continue
			}
			fmt.Fprintf(w, "| %s | %s |", s.label, strings.TrimPrefix(v.label, "tornago "))
			for _, p := range peers {
				if x, ok := ratio(v.name, p.name, s); ok {
					fmt.Fprintf(w, " %.2f× |", x)
				} else {
					fmt.Fprintf(w, " — |")
				}
			}
			fmt.Fprintln(w)
		}
	}

	writeTargets(w, ratio, figure)

	// Details.
	for _, sc := range []struct{ key, title, unit string }{
		{"echo-64", "Echo, 64 B, 64 connections", "msgs"},
		{"echo-4096", "Echo, 4 KiB, 64 connections", "msgs"},
		{"echo-65536", "Echo, 64 KiB, 64 connections", "msgs"},
		{"broadcast", "Broadcast to 1,000 subscribers, publisher window 16", "deliveries"},
	} {
		if !measured(sc.key) {
			continue
		}
		fmt.Fprintf(w, "\n### %s\n\n| server | rounds | %s/s | p50 | p99 | server CPU-s | %s per server CPU-s | spread | errors |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n", sc.title, sc.unit, sc.unit)
		s := scenarioOf(sc.key)
		for _, srv := range allServers {
			r, ok := get(srv.name, sc.key)
			if !ok {
				continue
			}
			st, _ := figure(srv.name, s)
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %.2f | %s | %s | %d |\n", srv.label, st.n, human(r.PerSecond), micros(r.P50us), micros(r.P99us), r.CPUSeconds, human(r.PerCPU), spread(st, human), r.Errors)
		}
	}
	idle := scenarioOf("idle")
	if measured("idle") {
		fmt.Fprintf(w, "\n### Idle memory\n\n| server | rounds | connections | RSS before | RSS after | bytes per connection | spread | time to open all |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, srv := range allServers {
			if r, ok := get(srv.name, "idle"); ok {
				st, _ := figure(srv.name, idle)
				fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %s | %.2f s |\n", srv.label, st.n, r.Conns, mib(r.RSSBase), mib(r.RSSAfter), human(r.PerConn), spread(st, human), r.AcceptSec)
			}
		}
	}
	for _, key := range keysWithPrefix(cells, "idle-") {
		title := fmt.Sprintf("Idle memory at scale (%s connections)", strings.TrimPrefix(key, "idle-"))
		if n, ok := strings.CutPrefix(key, "idle-ping-"); ok {
			title = fmt.Sprintf("Idle at scale with keepalive pings on (%s connections)", n)
		}
		fmt.Fprintf(w, "\n### %s\n\n", title)
		fmt.Fprintf(w, "Bytes per connection: the server's RSS growth, its Go heap growth after two GCs (what the connections hold, sync.Pool contents left out; servers with a pprof listener), and, machine-wide (both ends of every loopback connection, and whatever else ran), the kernel's TCP buffer pages (/proc/net/sockstat \"mem\") and slab (/proc/meminfo \"Slab\": sockets, files, inodes). Errors: connections that ended before the run closed them. On paper, 1,000,000 connections: the RSS per connection × 10⁶ in the server, and half the slab per connection (the server's end) × 10⁶ in its kernel.\n\n")
		fmt.Fprintf(w, "| server | rounds | RSS before | RSS after | RSS per connection | spread | Go heap per connection | kernel TCP buffers per connection | kernel slab per connection | time to open all | connections per s | errors | 1,000,000 on paper: server + kernel |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		s := scenarioOf(key)
		for _, srv := range allServers {
			r, ok := get(srv.name, key)
			if !ok {
				continue
			}
			st, _ := figure(srv.name, s)
			heap := "—"
			if r.HeapBase > 0 {
				heap = human(r.HeapPer)
			}
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %.2f s | %s | %d | %.1f GB + %.1f GB |\n", srv.label, st.n, mib(r.RSSBase), mib(r.RSSAfter), human(r.PerConn), spread(st, human), heap, signed(r.SockPer), signed(r.SlabPer), r.AcceptSec, human(float64(r.Conns)/r.AcceptSec), r.Errors, r.PerConn*1e6/1e9, r.SlabPer/2*1e6/1e9)
		}
	}
	for _, hs := range []struct{ key, title string }{
		{"handshake", "Handshakes through tornago's client (websocket.Dial, then Close(1000) awaiting the reply)"},
		{"handshake-close", "Handshakes + close on a raw socket (connect, upgrade, 101 checked, masked close frame, the close reply or TCP close awaited)"},
	} {
		s := scenarioOf(hs.key)
		header := false
		for _, srv := range allServers {
			r, ok := get(srv.name, hs.key)
			if !ok {
				continue
			}
			if !header {
				fmt.Fprintf(w, "\n### %s: %s at concurrency %d\n\n| server | rounds | handshakes/s | server CPU-s | handshakes per server CPU-s | spread | errors |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n", hs.title, human(float64(r.Count+r.Errors)), r.Conns)
				header = true
			}
			st, _ := figure(srv.name, s)
			fmt.Fprintf(w, "| %s | %d | %s | %.2f | %s | %s | %d |\n", srv.label, st.n, human(r.PerSecond), r.CPUSeconds, human(r.PerCPU), spread(st, human), r.Errors)
		}
	}
	for _, key := range keysWithPrefix(cells, "chat") {
		s := scenarioOf(key)
		latency := scenario{key, key, true, p99, micros}
		header := false
		for _, srv := range allServers {
			r, ok := get(srv.name, key)
			if !ok {
				continue
			}
			if !header {
				fmt.Fprintf(w, "\n### Chat room: %s members, a publish every %s (%.0f s measured)\n\n", human(float64(r.Conns)), time.Duration(r.IntervalUS)*time.Microsecond, r.Seconds)
				fmt.Fprintf(w, "One member publishes over its WebSocket; the server relays each message to every member, the publisher included. Latency (publish to receipt), deliveries/s and per server CPU-s: the deliveries that came during the window, whenever published (when the room falls behind, the latency says how far). Missing: deliveries of the window's publishes that had not come by the drain time after the last; dropped: members the server closed.\n\n")
				fmt.Fprintf(w, "| server | rounds | publishes | deliveries/s | p50 | p99 | p99 spread | server CPU-s | server CPU per s | deliveries per server CPU-s | spread | missing | dropped | errors |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
				header = true
			}
			st, _ := figure(srv.name, s)
			lat, _ := figure(srv.name, latency)
			fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %s | %.2f | %.2f | %s | %s | %d | %d | %d |\n", srv.label, st.n, r.Published, human(r.PerSecond), micros(r.P50us), micros(r.P99us), spread(lat, micros), r.CPUSeconds, r.CPUSeconds/r.Seconds, human(r.PerCPU), spread(st, human), r.Missing, r.Dropped, r.Errors)
		}
	}
}

// writeTargets writes the targets of issues 8 and 19 with the verdicts of
// this run, from the medians.
func writeTargets(w io.Writer, ratio func(v, peer string, s scenario) (float64, bool), figure func(srv string, s scenario) (stat, bool)) {
	fmt.Fprintf(w, "\n### Targets (issues 8 and 19; medians)\n\n| target | tornago (handler) | tornago (core) |\n| --- | --- | --- |\n")
	verdict := func(x float64, ok bool, goal float64) string {
		if !ok {
			return "not measured"
		}
		if x >= goal {
			return fmt.Sprintf("%.2f×: **met**", x)
		}
		return fmt.Sprintf("%.2f×: not met", x)
	}
	row := func(label, key, peer string, handler, core float64) {
		fmt.Fprintf(w, "| %s |", label)
		for i, v := range tornagoVariants {
			x, ok := ratio(v.name, peer, scenarioOf(key))
			fmt.Fprintf(w, " %s |", verdict(x, ok, []float64{handler, core}[i]))
		}
		fmt.Fprintln(w)
	}
	for _, sz := range []string{"64", "4096", "65536"} {
		row(fmt.Sprintf("echo %s B ≥ 0.9× plain TCP per CPU-s (8, 19)", sz), "echo-"+sz, "tcp", 0.9, 0.9)
	}
	row("broadcast ≥ 2× gorilla per CPU-s (8)", "broadcast", "gorilla", 2, 2)
	row("handshakes ≥ 1.5× gorilla per CPU-s (8)", "handshake", "gorilla", 1.5, 1.5)
	row("handshakes + close ≥ 1.0× (handler), ≥ 1.1× (core) gorilla per CPU-s (19)", "handshake-close", "gorilla", 1.0, 1.1)
	fmt.Fprintf(w, "| idle ≤ 4 KiB (handler), ≤ 2.5 KiB (core) per connection (19) |")
	for i, v := range tornagoVariants {
		st, ok := figure(v.name, scenarioOf("idle"))
		goal := []float64{4096, 2560}[i]
		switch {
		case !ok:
			fmt.Fprintf(w, " not measured |")
		case st.median <= goal:
			fmt.Fprintf(w, " %s B: **met** |", human(st.median))
		default:
			fmt.Fprintf(w, " %s B: not met |", human(st.median))
		}
	}
	fmt.Fprintln(w)
}

// keysWithPrefix returns the scenarios of cells that start with prefix, sorted.
func keysWithPrefix(cells map[[2]string][]result, prefix string) []string {
	var keys []string
	for k := range cells {
		if strings.HasPrefix(k[1], prefix) && !slices.Contains(keys, k[1]) {
			keys = append(keys, k[1])
		}
	}
	slices.Sort(keys)
	return keys
}

// mib formats a byte count in MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// signed formats a machine-wide difference, which other processes can
// make negative.
func signed(x float64) string {
	if x < 0 {
		return "−" + human(-x)
	}
	return human(x)
}

// human formats a count with k or M, three significant digits.
func human(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e5:
		return fmt.Sprintf("%.0fk", x/1e3)
	case x >= 1e4:
		return fmt.Sprintf("%.1fk", x/1e3)
	case x >= 1e3:
		return fmt.Sprintf("%.2fk", x/1e3)
	default:
		return fmt.Sprintf("%.0f", x)
	}
}

// micros formats a latency given in µs.
func micros(us float64) string {
	if us >= 1000 {
		return fmt.Sprintf("%.2f ms", us/1000)
	}
	return fmt.Sprintf("%.0f µs", us)
}
