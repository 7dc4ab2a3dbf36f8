package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tornago/tornago/websocket"
)

// Broadcast message layout: kind, sequence number, send time (ns since
// the run's start), padding up to cfg.size.
const (
	kindProbe = 0 // sent until every subscriber has seen one
	kindData  = 1 // measured
	headerLen = 17
	ringLen   = 1024 // delivery counters, indexed by sequence number
)

// delivery is one message received by one subscriber.
type delivery struct {
	at      time.Duration // since the run's start
	latency time.Duration
}

// runBroadcast connects cfg.conns clients to /broadcast; the first also
// publishes, keeping cfg.window messages in flight: a message leaves the
// window once every client (the publisher included) has received it.
func runBroadcast(cfg config) (result, error) {
	ctx := context.Background()
	n := cfg.conns
	size := max(cfg.size, headerLen)
	conns := make([]*websocket.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	for range n {
		c, err := dialWS(ctx, cfg, "/broadcast")
		if err != nil {
			return result{}, err
		}
		conns = append(conns, c)
	}

	start := time.Now()
	var (
		probes   [ringLen]atomic.Int64 // receivers of each probe
		counters [ringLen]atomic.Int64
		tokens   = make(chan struct{}, cfg.window)
		errs     atomic.Int64
		wg       sync.WaitGroup
		got      = make([][]delivery, n)
	)
	for i, c := range conns {
		wg.Go(func() {
			buf := make([]byte, size+1)
			d := make([]delivery, 0, 8192)
			defer func() { got[i] = d }()
			for {
				_, r, err := c.NextReader(ctx)
				if err != nil {
					return
				}
				m, err := readInto(r, buf)
				if err != nil || m < headerLen {
					errs.Add(1)
					return
				}
				now := time.Since(start)
				if buf[0] == kindProbe {
					probes[binary.BigEndian.Uint64(buf[1:])%ringLen].Add(1)
					continue
				}
				seq := binary.BigEndian.Uint64(buf[1:])
				sent := time.Duration(binary.BigEndian.Uint64(buf[9:]))
				d = append(d, delivery{at: now, latency: now - sent})
				if counters[seq%ringLen].Add(1) == int64(n) {
					tokens <- struct{}{}
				}
			}
		})
	}

	pub := conns[0]
	msg := make([]byte, size)
	send := func(kind byte, seq uint64) error {
		msg[0] = kind
		binary.BigEndian.PutUint64(msg[1:], seq)
		binary.BigEndian.PutUint64(msg[9:], uint64(time.Since(start)))
		return pub.WriteMessage(ctx, websocket.BinaryMessage, msg)
	}
	// Wait until every subscriber is on the server's list: probes are sent
	// one at a time until one reaches every client. Messages arrive in
	// order, so the earlier probes are out of the way by then.
	deadline := time.Now().Add(60 * time.Second)
	for seq := uint64(0); ; seq++ {
		if err := send(kindProbe, seq); err != nil {
			return result{}, err
		}
		wait := time.Now().Add(2 * time.Second)
		for probes[seq%ringLen].Load() < int64(n) && time.Now().Before(wait) {
			time.Sleep(10 * time.Millisecond)
		}
		if probes[seq%ringLen].Load() == int64(n) {
			break
		}
		if time.Now().After(deadline) {
			return result{}, fmt.Errorf("only %d of %d subscribers got probe %d", probes[seq%ringLen].Load(), n, seq)
		}
	}

	for range cfg.window {
		tokens <- struct{}{}
	}
	var stop atomic.Bool
	pubErr := make(chan error, 1)
	go func() {
		for seq := uint64(0); ; seq++ {
			select {
			case <-tokens:
			case <-time.After(10 * time.Second):
				pubErr <- errors.New("a message was not delivered to every subscriber within 10s")
				return
			}
			if stop.Load() {
				pubErr <- nil
				return
			}
			counters[seq%ringLen].Store(0)
			if err := send(kindData, seq); err != nil {
				pubErr <- err
				return
			}
		}
	}()
	time.Sleep(cfg.warmup)
	from, cpu0, err := mark(cfg.pid, start)
	if err != nil {
		return result{}, err
	}
	time.Sleep(cfg.duration)
	to, cpu1, err := mark(cfg.pid, start)
	if err != nil {
		return result{}, err
	}
	stop.Store(true)
	if err := <-pubErr; err != nil {
		return result{}, err
	}
	time.Sleep(100 * time.Millisecond)
	for _, c := range conns {
		c.CloseNow()
	}
	wg.Wait()

	var lat []time.Duration
	for _, d := range got {
		for _, x := range d {
			if x.at >= from && x.at < to {
				lat = append(lat, x.latency)
			}
		}
	}
	if len(lat) == 0 {
		return result{}, errors.New("no delivery in the window")
	}
	sortDurations(lat)
	secs := (to - from).Seconds()
	res := result{
		Scenario:   "broadcast",
		Size:       size,
		Conns:      n,
		Count:      int64(len(lat)),
		Seconds:    secs,
		PerSecond:  float64(len(lat)) / secs,
		CPUSeconds: cpu1 - cpu0,
		P50us:      percentile(lat, 0.50),
		P99us:      percentile(lat, 0.99),
		Errors:     errs.Load(),
	}
	if res.CPUSeconds > 0 {
		res.PerCPU = float64(res.Count) / res.CPUSeconds
	}
	return res, nil
}
