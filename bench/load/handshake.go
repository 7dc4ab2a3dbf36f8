package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tornago/tornago/websocket"
)

// runHandshake opens cfg.count WebSockets to /echo, cfg.conc at a time,
// each closed at once with the closing handshake (1000), and measures the
// rate and the server's CPU time for all of them.
func runHandshake(cfg config) (result, error) {
	ctx := context.Background()
	var next, errs atomic.Int64
	var wg sync.WaitGroup
	cpu0, err := cpuSeconds(cfg.pid)
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	for range cfg.conc {
		wg.Go(func() {
			for next.Add(1) <= int64(cfg.count) {
				dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				c, err := dialWS(dctx, cfg, "/echo")
				cancel()
				if err != nil {
					errs.Add(1)
					continue
				}
				if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
					errs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	cpu1, err := cpuSeconds(cfg.pid)
	if err != nil {
		return result{}, err
	}
	return handshakeResult("handshake", cfg, errs.Load(), wall, cpu1-cpu0), nil
}

// handshakeResult is the result of a handshake scenario: cfg.count
// handshakes at concurrency cfg.conc, errs of them failed, in wall time
// and cpu seconds of the server's CPU.
func handshakeResult(scenario string, cfg config, errs int64, wall time.Duration, cpu float64) result {
	ok := int64(cfg.count) - errs
	res := result{
		Scenario:   scenario,
		Conns:      cfg.conc,
		Count:      ok,
		Seconds:    wall.Seconds(),
		PerSecond:  float64(ok) / wall.Seconds(),
		CPUSeconds: cpu,
		Errors:     errs,
	}
	if cpu > 0 {
		res.PerCPU = float64(ok) / cpu
	}
	return res
}
