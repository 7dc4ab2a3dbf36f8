// Command echo is the WebSocket server that tornago's benchmarks and
// interop tests drive (the contract is in BENCH.md):
//
//	GET /echo                          each message sent back with its type
//	GET /echo?close=CODE&reason=TEXT   closed with CODE and TEXT right after the handshake
//	GET /broadcast                     each message sent to every /broadcast client, sender included
//	GET /room                          with -hub: a chat room on the hub, each message to every member
//
// It listens on -addr, else $ADDR, else 127.0.0.1:8888, and prints
// "listening on HOST:PORT" on standard output once it accepts connections
// (so -addr 127.0.0.1:0 picks a free port and tells which). Origins follow
// websocket.DefaultCheckOrigin; ALLOW_ORIGIN names one more origin to
// accept. SIGINT or SIGTERM closes every WebSocket with 1001 and exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // for -pprof
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/websocket"
)

// defaultAddr is where the server listens without -addr or $ADDR.
const defaultAddr = "127.0.0.1:8888"

// shutdownTimeout bounds the graceful stop: the closing handshakes, then
// connections still open are dropped.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the whole program: it serves until ctx ends (a signal) and
// returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := getenv("ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	fs.StringVar(&addr, "addr", addr, "listen address (default: $ADDR, else "+defaultAddr+")")
	deflate := fs.Bool("deflate", false, "negotiate permessage-deflate when the client offers it (server without context takeover)")
	core := fs.Bool("core", false, "serve with the bare websocket core (websocket.Accept) instead of tornago.WebSocketHandler")
	withHub := fs.Bool("hub", false, "also serve GET /room, a chat room on tornago's hub (handler variant; for the chat benchmark)")
	ping := fs.Duration("ping", 0, "ping every WebSocket peer this often (Settings.WebSocketPingInterval, or the session's PingInterval with -core; 0: no pings)")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof's profiles on this address (off by default), to profile the server under load")
	var level slog.Level
	fs.TextVar(&level, "log-level", slog.LevelInfo, "least level logged: DEBUG, INFO (an access line per request), WARN or ERROR")
	logFlush := fs.Duration("log-flush", 100*time.Millisecond, "gather log records and write them together this often, or when 64 KiB are gathered (tornago.BufferedLogWriter); 0: write each at once")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "echo: unexpected arguments %q\n", fs.Args())
		return 2
	}
	logOut, flushLog := stderr, func() {}
	if *logFlush > 0 {
		// A reconnect storm logs a line per handshake: written one by
		// one, the lines cost a system call each.
		buffered, err := tornago.NewBufferedLogWriter(stderr, 64<<10, *logFlush)
		if err != nil {
			fmt.Fprintf(stderr, "echo: -log-flush: %v\n", err)
			return 2
		}
		defer buffered.Close()
		logOut, flushLog = buffered, func() { _ = buffered.Flush() }
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))
	cfg := config{allowOrigin: getenv("ALLOW_ORIGIN"), logger: log, ping: *ping}
	if *deflate {
		// Without server context takeover a connection keeps no compressor
		// between messages, and a broadcast is compressed once for all.
		cfg.compression = &websocket.CompressionOptions{ServerNoContextTakeover: true}
	}

	v, err := newVariant(*core, *withHub, cfg)
	if err != nil {
		log.Error("setup", "err", err)
		return 1
	}
	mux := http.NewServeMux()
	v.register(mux)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("listen", "addr", addr, "err", err)
		return 1
	}
	if *pprofAddr != "" {
		// net/http/pprof registers on http.DefaultServeMux, which only
		// this side listener serves.
		pln, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			log.Error("pprof listen", "addr", *pprofAddr, "err", err)
			return 1
		}
		defer pln.Close()
		go http.Serve(pln, nil)
		log.Info("profiles", "url", "http://"+pln.Addr().String()+"/debug/pprof/")
	}
	log.Info("serving", "addr", ln.Addr().String(), "origin_also_allowed", getenv("ALLOW_ORIGIN"))
	// Scripts read the start-up lines (the profiles URL) once this one
	// is out: they go first.
	flushLog()
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		log.Error("serve", "err", err)
		return 1
	case <-ctx.Done():
	}

	log.Info("stopping")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	status := 0
	// Stop accepting first, so that no handshake starts once the
	// WebSockets are being closed; Shutdown does not wait for them
	// (they were hijacked), the variant does.
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("stopping the HTTP server", "err", err)
		status = 1
	}
	if err := v.shutdown(sctx); err != nil {
		log.Error("closing WebSockets", "err", err)
		status = 1
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		status = 1
	}
	log.Info("stopped")
	return status
}

// newVariant picks the implementation of the WebSocket endpoints:
// tornago.WebSocketHandler by default, the bare core with -core, so that
// the benchmarks show what the handler model costs; withHub (-hub) is the
// handler variant with the /room chat room on top (hub.go).
func newVariant(core, withHub bool, cfg config) (variant, error) {
	switch {
	case core && withHub:
		return nil, errors.New("-hub serves the handler variant: leave -core out")
	case core:
		return newCoreVariant(cfg), nil
	case withHub:
		return newHubVariant(cfg)
	}
	return newFrameworkVariant(cfg)
}
