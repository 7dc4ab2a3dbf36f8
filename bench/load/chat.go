package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tornago/tornago/websocket"
)

// Chat message layout, text: a kind letter, the sequence number and the
// send time (ns since the run's start) as 16 hex digits each, then 'x'
// padding up to cfg.size. No newline: gorilla's chat example joins the
// messages queued for a client into one WebSocket message with newlines.
const (
	chatProbe     = 'p' // sent until every member has seen one
	chatData      = 'd' // measured
	chatHeaderLen = 1 + 16 + 16
)

// runChat is the chat room at scale: cfg.conns members join the server's
// room (GET /room); the first member, over its own WebSocket as a chat
// user would, publishes a text message every cfg.interval, which the
// server relays to every member (the publisher included). Publish-to-
// receipt latency is measured on one clock: each message carries its send
// time. The latencies and rates are those of the deliveries that came in
// the window (cfg.duration after cfg.warmup), whenever published, over its
// length and the server's CPU time in it: when the room falls behind, the
// latencies show how far. The publishes made in the window are then
// awaited (up to cfg.drain after the last), and those of their deliveries
// that never came are reported as missing. A publisher the server closes
// ends the window early and counts as an error.
func runChat(cfg config) (result, error) {
	ctx := context.Background()
	n := cfg.conns
	size := max(cfg.size, chatHeaderLen)
	conns := make([]*websocket.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.CloseNow()
			}
		}
	}()
	if err := dialAll(ctx, cfg, "/room", conns); err != nil {
		return result{}, err
	}

	start := time.Now()
	var (
		probes    atomic.Int64 // members that have seen the current probe
		probeSeq  atomic.Uint64
		seqFrom   atomic.Uint64 // the window's publishes: [seqFrom, seqTo)
		seqTo     atomic.Uint64
		measuring atomic.Bool                // between the window's marks
		lastSeq   = make([]atomic.Uint64, n) // per member: the last data message + 1
		closing   atomic.Bool
		dropped   atomic.Int64
		badMsgs   atomic.Int64
		lat       histogram
		received  atomic.Int64 // deliveries of the window's publishes, whenever they came
		arrived   atomic.Int64 // deliveries that came in the window, whenever published
		wg        sync.WaitGroup
	)
	seqFrom.Store(1 << 63)
	seqTo.Store(1 << 63)
	for i, c := range conns {
		wg.Go(func() {
			buf := make([]byte, size+1)
			for {
				_, r, err := c.NextReader(ctx)
				if err != nil {
					if !closing.Load() {
						dropped.Add(1)
					}
					return
				}
				if buf, err = readGrowing(r, buf); err != nil {
					badMsgs.Add(1)
					continue
				}
				now := time.Since(start)
				for line := range bytes.SplitSeq(buf, []byte{'\n'}) {
					kind, seq, sent, ok := parseChat(line)
					switch {
					case !ok:
						badMsgs.Add(1)
					case kind == chatProbe:
						if seq == probeSeq.Load() {
							probes.Add(1)
						}
					default:
						lastSeq[i].Store(seq + 1)
						if measuring.Load() {
							arrived.Add(1)
							lat.add(now - sent)
						}
						if seq >= seqFrom.Load() && seq < seqTo.Load() {
							received.Add(1)
						}
					}
				}
			}
		})
	}

	pub := conns[0]
	msg := bytes.Repeat([]byte{'x'}, size)
	send := func(kind byte, seq uint64) error {
		msg[0] = kind
		putHex(msg[1:17], seq)
		putHex(msg[17:33], uint64(time.Since(start)))
		return pub.WriteMessage(ctx, websocket.TextMessage, msg)
	}
	// Probes, one at a time until one reaches every member: the room is
	// complete (a server may register members after the 101).
	deadline := time.Now().Add(60 * time.Second)
	for seq := uint64(0); ; seq++ {
		probes.Store(0)
		probeSeq.Store(seq)
		if err := send(chatProbe, seq); err != nil {
			return result{}, err
		}
		wait := time.Now().Add(2 * time.Second)
		for probes.Load() < int64(n) && time.Now().Before(wait) {
			time.Sleep(10 * time.Millisecond)
		}
		if probes.Load() >= int64(n) {
			break
		}
		if time.Now().After(deadline) {
			return result{}, fmt.Errorf("only %d of %d members got probe %d", probes.Load(), n, seq)
		}
	}

	// The publisher marks the window itself, before sending the first
	// message in it and the first after it, so that a delivery counts
	// exactly when its message was published in the window.
	w, err := publishChat(cfg, send, &seqFrom, &seqTo, &measuring)
	pubLost := int64(0)
	if err != nil {
		if w.to.IsZero() {
			return result{}, err
		}
		// The server closed the publisher in the window (a room that
		// drops members that fall behind may drop it too): the window
		// ends there, and the run counts an error.
		fmt.Fprintf(os.Stderr, "load: the window ended early: %v\n", err)
		pubLost = 1
	}
	window := w.to.Sub(w.from)
	// Wait for the last publish to reach every member still open.
	last := seqTo.Load()
	drainBy := time.Now().Add(cfg.drain)
	for time.Now().Before(drainBy) {
		behind := 0
		for i := range lastSeq {
			if lastSeq[i].Load() < last {
				behind++
			}
		}
		if int64(behind) <= dropped.Load() {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	closing.Store(true)
	for _, c := range conns {
		c.CloseNow()
	}
	wg.Wait()

	published := int64(seqTo.Load() - seqFrom.Load())
	if published == 0 {
		return result{}, errors.New("nothing published in the window")
	}
	got, came := received.Load(), arrived.Load()
	res := result{
		Scenario:   "chat",
		Size:       size,
		Conns:      n,
		Count:      came,
		Seconds:    window.Seconds(),
		PerSecond:  float64(came) / window.Seconds(),
		CPUSeconds: w.cpu1 - w.cpu0,
		P50us:      lat.percentile(0.50),
		P99us:      lat.percentile(0.99),
		IntervalUS: cfg.interval.Microseconds(),
		Published:  published,
		Missing:    published*int64(n) - got,
		Dropped:    dropped.Load(),
		Errors:     badMsgs.Load() + pubLost,
	}
	if res.CPUSeconds > 0 {
		res.PerCPU = float64(came) / res.CPUSeconds
	}
	if n != 19000 {
		res.Scenario = fmt.Sprintf("chat-%d", n)
	}
	return res, nil
}

// chatWindow is when the measured publishes were made and the server's
// CPU time at either end.
type chatWindow struct {
	from, to   time.Time
	cpu0, cpu1 float64
}

// publishChat sends a data message every cfg.interval: cfg.warmup of
// them, then those of the window (cfg.duration), whose sequence numbers
// it stores in [seqFrom, seqTo) before sending them. A tick missed while
// a send blocks (the server is not reading) is skipped, not made up.
func publishChat(cfg config, send func(kind byte, seq uint64) error, seqFrom, seqTo *atomic.Uint64, measuring *atomic.Bool) (chatWindow, error) {
	var w chatWindow
	t := time.NewTicker(cfg.interval)
	defer t.Stop()
	begin := time.Now()
	inWindow := false
	for seq := uint64(0); ; seq++ {
		now := <-t.C
		var err error
		switch {
		case !inWindow && now.Sub(begin) >= cfg.warmup:
			if w.cpu0, err = cpuSeconds(cfg.pid); err != nil {
				return w, err
			}
			w.from, inWindow = time.Now(), true
			seqFrom.Store(seq)
			measuring.Store(true)
		case inWindow && time.Since(w.from) >= cfg.duration:
			if w.cpu1, err = cpuSeconds(cfg.pid); err != nil {
				return w, err
			}
			w.to = time.Now()
			measuring.Store(false)
			seqTo.Store(seq)
			return w, nil
		}
		if sendErr := send(chatData, seq); sendErr != nil {
			if inWindow {
				measuring.Store(false)
				seqTo.Store(seq)
				w.to = time.Now()
				if w.cpu1, err = cpuSeconds(cfg.pid); err != nil {
					return chatWindow{}, err
				}
			}
			return w, fmt.Errorf("publishing: %w", sendErr)
		}
	}
}

// dialAll opens a WebSocket to path in every slot of conns, 16 at a time.
func dialAll(ctx context.Context, cfg config, path string, conns []*websocket.Conn) error {
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(conns) {
					return
				}
				c, err := dialWS(ctx, cfg, path)
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("connection %d: %w", i, err) })
					next.Store(int64(len(conns)))
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	return firstErr
}

// readGrowing reads the rest of a message from r into buf, growing it as
// needed (a coalesced chat message holds many), and returns the message.
func readGrowing(r io.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// parseChat splits one chat message into its kind, sequence number and
// send time.
func parseChat(b []byte) (kind byte, seq uint64, sent time.Duration, ok bool) {
	if len(b) < chatHeaderLen || (b[0] != chatProbe && b[0] != chatData) {
		return 0, 0, 0, false
	}
	seq, err1 := strconv.ParseUint(string(b[1:17]), 16, 64)
	ns, err2 := strconv.ParseUint(string(b[17:33]), 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, 0, false
	}
	return b[0], seq, time.Duration(ns), true
}

// putHex writes v into b as 16 hex digits.
func putHex(b []byte, v uint64) {
	const digits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
}
