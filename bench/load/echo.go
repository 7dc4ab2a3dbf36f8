package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tornago/tornago/websocket"
)

// sample is one completed round trip.
type sample struct {
	end time.Duration // since the run's start
	rtt time.Duration
}

// runEcho keeps cfg.conns connections each sending a cfg.size message and
// waiting for its echo, and measures the round trips completed in the
// window after the warm-up.
func runEcho(cfg config) (result, error) {
	ctx := context.Background()
	payload := make([]byte, cfg.size)
	rand.Read(payload)
	type roundTripper func(buf []byte) error
	var trips []roundTripper
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	for range cfg.conns {
		if cfg.tcp {
			nc, err := netDial(ctx, cfg.sources, hostPort(cfg))
			if err != nil {
				return result{}, err
			}
			closers = append(closers, nc)
			trips = append(trips, func(buf []byte) error {
				if _, err := nc.Write(payload); err != nil {
					return err
				}
				_, err := io.ReadFull(nc, buf[:len(payload)])
				return err
			})
			continue
		}
		c, err := dialWS(ctx, cfg, "/echo")
		if err != nil {
			return result{}, err
		}
		closers = append(closers, wsCloser{c})
		trips = append(trips, func(buf []byte) error {
			if err := c.WriteMessage(ctx, websocket.BinaryMessage, payload); err != nil {
				return err
			}
			_, r, err := c.NextReader(ctx)
			if err != nil {
				return err
			}
			n, err := readInto(r, buf)
			if err == nil && n != len(payload) {
				err = fmt.Errorf("echo of %d bytes, want %d", n, len(payload))
			}
			return err
		})
	}

	start := time.Now()
	var stop atomic.Bool
	var errs atomic.Int64
	samples := make([][]sample, len(trips))
	var wg sync.WaitGroup
	for i, trip := range trips {
		wg.Go(func() {
			buf := make([]byte, cfg.size+1)
			s := make([]sample, 0, 4096)
			for !stop.Load() {
				t0 := time.Since(start)
				if err := trip(buf); err != nil {
					errs.Add(1)
					break
				}
				t1 := time.Since(start)
				s = append(s, sample{end: t1, rtt: t1 - t0})
			}
			samples[i] = s
		})
	}
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
	wg.Wait()

	var rtts []time.Duration
	for _, s := range samples {
		for _, x := range s {
			if x.end >= from && x.end < to {
				rtts = append(rtts, x.rtt)
			}
		}
	}
	if len(rtts) == 0 {
		return result{}, errors.New("no round trip completed in the window")
	}
	sortDurations(rtts)
	secs := (to - from).Seconds()
	res := result{
		Scenario:   fmt.Sprintf("echo-%d", cfg.size),
		Size:       cfg.size,
		Conns:      cfg.conns,
		Count:      int64(len(rtts)),
		Seconds:    secs,
		PerSecond:  float64(len(rtts)) / secs,
		CPUSeconds: cpu1 - cpu0,
		P50us:      percentile(rtts, 0.50),
		P99us:      percentile(rtts, 0.99),
		Errors:     errs.Load(),
	}
	if res.CPUSeconds > 0 {
		res.PerCPU = float64(res.Count) / res.CPUSeconds
	}
	return res, nil
}

// mark returns the time since start and the server's CPU seconds so far.
func mark(pid int, start time.Time) (time.Duration, float64, error) {
	cpu, err := cpuSeconds(pid)
	return time.Since(start), cpu, err
}

// wsCloser drops a WebSocket without the closing handshake (the load is
// over; the server process is stopped next).
type wsCloser struct{ c *websocket.Conn }

func (w wsCloser) Close() error { return w.c.CloseNow() }
