package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
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
	lowerWins  bool // memory: less is better
}

var scenarios = []scenario{
	{"echo-64", "echo 64 B, msgs per server CPU-s", false},
	{"echo-4096", "echo 4 KiB, msgs per server CPU-s", false},
	{"echo-65536", "echo 64 KiB, msgs per server CPU-s", false},
	{"broadcast", "broadcast to 1,000, deliveries per server CPU-s", false},
	{"idle", "idle memory, bytes per connection", true},
	{"handshake", "handshakes per server CPU-s", false},
}

// figure is the number a scenario is judged by.
func (s scenario) figure(r result) float64 {
	if strings.HasPrefix(s.key, "idle") {
		return r.PerConn
	}
	return r.PerCPU
}

// report reads result lines and writes the markdown tables, keeping the
// best round of each cell.
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
	best := map[[2]string]result{}
	rounds := map[[2]string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return err
		}
		k := [2]string{r.Server, r.Scenario}
		rounds[k]++
		s := scenarioOf(r.Scenario)
		if b, ok := best[k]; !ok || (s.lowerWins && s.figure(r) < s.figure(b)) || (!s.lowerWins && s.figure(r) > s.figure(b)) {
			best[k] = r
		}
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
	writeReport(w, best, rounds)
	return nil
}

func scenarioOf(key string) scenario {
	for _, s := range scenarios {
		if s.key == key {
			return s
		}
	}
	return scenario{key: key, lowerWins: strings.HasPrefix(key, "idle")}
}

func writeReport(w io.Writer, best map[[2]string]result, rounds map[[2]string]int) {
	get := func(srv, sc string) (result, bool) { r, ok := best[[2]string{srv, sc}]; return r, ok }
	maxRounds := 0
	for _, n := range rounds {
		maxRounds = max(maxRounds, n)
	}
	fmt.Fprintf(w, "Best of %d round(s) per cell. \"—\": not applicable or not measured.\n\n", maxRounds)

	// Summary, one figure per scenario and server.
	fmt.Fprintf(w, "### Summary\n\n| scenario |")
	for _, s := range allServers {
		fmt.Fprintf(w, " %s |", s.label)
	}
	fmt.Fprintf(w, "\n| --- |%s\n", strings.Repeat(" ---: |", len(allServers)))
	for _, s := range scenarios {
		fmt.Fprintf(w, "| %s |", s.label)
		for _, srv := range allServers {
			if r, ok := get(srv.name, s.key); ok {
				fmt.Fprintf(w, " %s |", human(s.figure(r)))
			} else {
				fmt.Fprintf(w, " — |")
			}
		}
		fmt.Fprintln(w)
	}

	// Ratios of each tornago variant to every peer.
	fmt.Fprintf(w, "\n### Ratios: tornago ÷ peer (same figure as the summary; above 1 is better except for idle memory, where below 1 is better)\n\n| scenario | tornago |")
	for _, p := range peers {
		fmt.Fprintf(w, " vs %s |", p.label)
	}
	fmt.Fprintf(w, "\n| --- | --- |%s\n", strings.Repeat(" ---: |", len(peers)))
	for _, s := range scenarios {
		for _, v := range tornagoVariants {
			fmt.Fprintf(w, "| %s | %s |", s.label, strings.TrimPrefix(v.label, "tornago "))
			t, ok := get(v.name, s.key)
			for _, p := range peers {
				r, pok := get(p.name, s.key)
				if !ok || !pok || s.figure(r) == 0 {
					fmt.Fprintf(w, " — |")
					continue
				}
				fmt.Fprintf(w, " %.2f× |", s.figure(t)/s.figure(r))
			}
			fmt.Fprintln(w)
		}
	}

	// Targets of issue 8.
	fmt.Fprintf(w, "\n### Targets (issue 8)\n\n| target | tornago (handler) | tornago (core) |\n| --- | --- | --- |\n")
	ratio := func(v, sc, peer string, lowerWins bool) (float64, bool) {
		t, ok1 := get(v, sc)
		p, ok2 := get(peer, sc)
		s := scenarioOf(sc)
		if !ok1 || !ok2 || s.figure(p) == 0 {
			return 0, false
		}
		return s.figure(t) / s.figure(p), true
	}
	verdict := func(x float64, ok bool, goal float64, unit string) string {
		if !ok {
			return "not measured"
		}
		met := "not met"
		if x >= goal {
			met = "**met**"
		}
		return fmt.Sprintf("%.2f%s: %s", x, unit, met)
	}
	for _, sz := range []string{"64", "4096", "65536"} {
		fmt.Fprintf(w, "| echo %s B ≥ 0.9× plain TCP per CPU-s |", sz)
		for _, v := range tornagoVariants {
			x, ok := ratio(v.name, "echo-"+sz, "tcp", false)
			fmt.Fprintf(w, " %s |", verdict(x, ok, 0.9, "×"))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "| broadcast ≥ 2× gorilla per CPU-s |")
	for _, v := range tornagoVariants {
		x, ok := ratio(v.name, "broadcast", "gorilla", false)
		fmt.Fprintf(w, " %s |", verdict(x, ok, 2, "×"))
	}
	fmt.Fprintf(w, "\n| idle ≤ 4 KiB per connection |")
	for _, v := range tornagoVariants {
		r, ok := get(v.name, "idle")
		if !ok {
			fmt.Fprintf(w, " not measured |")
			continue
		}
		met := "not met"
		if r.PerConn <= 4096 {
			met = "**met**"
		}
		fmt.Fprintf(w, " %s B: %s |", human(r.PerConn), met)
	}
	fmt.Fprintf(w, "\n| handshakes ≥ 1.5× gorilla per CPU-s |")
	for _, v := range tornagoVariants {
		x, ok := ratio(v.name, "handshake", "gorilla", false)
		fmt.Fprintf(w, " %s |", verdict(x, ok, 1.5, "×"))
	}
	fmt.Fprintln(w)

	// Details.
	for _, sc := range []struct{ key, title, unit string }{
		{"echo-64", "Echo, 64 B, 64 connections", "msgs"},
		{"echo-4096", "Echo, 4 KiB, 64 connections", "msgs"},
		{"echo-65536", "Echo, 64 KiB, 64 connections", "msgs"},
		{"broadcast", "Broadcast to 1,000 subscribers, publisher window 16", "deliveries"},
	} {
		fmt.Fprintf(w, "\n### %s\n\n| server | %s/s | p50 | p99 | server CPU-s | %s per server CPU-s | errors |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n", sc.title, sc.unit, sc.unit)
		for _, srv := range allServers {
			r, ok := get(srv.name, sc.key)
			if !ok {
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %.2f | %s | %d |\n", srv.label, human(r.PerSecond), micros(r.P50us), micros(r.P99us), r.CPUSeconds, human(r.PerCPU), r.Errors)
		}
	}
	fmt.Fprintf(w, "\n### Idle memory\n\n| server | connections | RSS before | RSS after | bytes per connection | time to open all |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, srv := range allServers {
		if r, ok := get(srv.name, "idle"); ok {
			fmt.Fprintf(w, "| %s | %d | %.1f MiB | %.1f MiB | %s | %.2f s |\n", srv.label, r.Conns, float64(r.RSSBase)/(1<<20), float64(r.RSSAfter)/(1<<20), human(r.PerConn), r.AcceptSec)
		}
	}
	var scale []string
	for k := range best {
		if strings.HasPrefix(k[1], "idle-") && !slices.Contains(scale, k[1]) {
			scale = append(scale, k[1])
		}
	}
	slices.Sort(scale)
	for _, key := range scale {
		fmt.Fprintf(w, "\n### Idle memory at scale (%s connections)\n\n| server | RSS before | RSS after | bytes per connection | time to open all | connections per s |\n| --- | ---: | ---: | ---: | ---: | ---: |\n", strings.TrimPrefix(key, "idle-"))
		for _, srv := range allServers {
			if r, ok := get(srv.name, key); ok {
				fmt.Fprintf(w, "| %s | %.1f MiB | %.1f MiB | %s | %.2f s | %s |\n", srv.label, float64(r.RSSBase)/(1<<20), float64(r.RSSAfter)/(1<<20), human(r.PerConn), r.AcceptSec, human(float64(r.Conns)/r.AcceptSec))
			}
		}
	}
	fmt.Fprintf(w, "\n### Handshakes (5,000 at concurrency 32, each closed with 1000)\n\n| server | handshakes/s | server CPU-s | handshakes per server CPU-s | errors |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, srv := range allServers {
		if r, ok := get(srv.name, "handshake"); ok {
			fmt.Fprintf(w, "| %s | %s | %.2f | %s | %d |\n", srv.label, human(r.PerSecond), r.CPUSeconds, human(r.PerCPU), r.Errors)
		}
	}
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
