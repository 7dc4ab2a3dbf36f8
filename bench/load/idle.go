package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tornago/tornago/websocket"
)

// runIdle opens cfg.conns connections to /echo, each echoing one message
// of cfg.size bytes, leaves them idle for cfg.settle and reports the
// server's RSS growth per connection, its Go heap growth (with -pprof) and
// the kernel's TCP buffer memory growth. With cfg.ping (the server pings
// every so often) every connection keeps a reader, which answers the
// pings; a connection that ends before the run closes it counts as an
// error (for instance one the server closed for a ping left unanswered).
func runIdle(cfg config) (result, error) {
	ctx := context.Background()
	base, err := rss(cfg.pid)
	if err != nil {
		return result{}, err
	}
	heapBase, err := goHeap(cfg.pprof)
	if err != nil {
		return result{}, err
	}
	sockBase, err := tcpSocketMemory()
	if err != nil {
		return result{}, err
	}
	slabBase, err := kernelSlab()
	if err != nil {
		return result{}, err
	}
	payload := make([]byte, cfg.size)
	closers := make([]io.Closer, cfg.conns)
	var closing atomic.Bool
	var readers sync.WaitGroup
	var errs atomic.Int64
	defer func() {
		closing.Store(true)
		for _, c := range closers {
			if c != nil {
				c.Close()
			}
		}
		readers.Wait()
	}()
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range 16 {
		wg.Go(func() {
			buf := make([]byte, cfg.size+1)
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.conns {
					return
				}
				c, err := openIdle(ctx, cfg, payload, buf)
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("connection %d: %w", i, err) })
					next.Store(int64(cfg.conns))
					return
				}
				closers[i] = c
				if ws, ok := c.(wsCloser); ok && cfg.ping > 0 {
					readers.Go(func() {
						for {
							if _, _, err := ws.c.NextReader(ctx); err != nil {
								if !closing.Load() {
									errs.Add(1)
								}
								return
							}
						}
					})
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return result{}, firstErr
	}
	accept := time.Since(start)
	time.Sleep(cfg.settle)
	after, err := rss(cfg.pid)
	if err != nil {
		return result{}, err
	}
	heapAfter, err := goHeap(cfg.pprof)
	if err != nil {
		return result{}, err
	}
	sockAfter, err := tcpSocketMemory()
	if err != nil {
		return result{}, err
	}
	slabAfter, err := kernelSlab()
	if err != nil {
		return result{}, err
	}
	scenario := "idle"
	switch {
	case cfg.ping > 0:
		scenario = fmt.Sprintf("idle-ping-%d", cfg.conns)
	case cfg.conns != 10000:
		scenario = fmt.Sprintf("idle-%d", cfg.conns)
	}
	res := result{
		Scenario:  scenario,
		Size:      cfg.size,
		Conns:     cfg.conns,
		Count:     int64(cfg.conns),
		RSSBase:   base,
		RSSAfter:  after,
		PerConn:   float64(after-base) / float64(cfg.conns),
		AcceptSec: accept.Seconds(),
		SockBase:  sockBase,
		SockAfter: sockAfter,
		SockPer:   float64(sockAfter-sockBase) / float64(cfg.conns),
		SlabBase:  slabBase,
		SlabAfter: slabAfter,
		SlabPer:   float64(slabAfter-slabBase) / float64(cfg.conns),
		Errors:    errs.Load(),
	}
	if cfg.pprof != "" {
		res.HeapBase, res.HeapAfter = heapBase, heapAfter
		res.HeapPer = float64(heapAfter-heapBase) / float64(cfg.conns)
	}
	return res, nil
}

// openIdle opens one connection and echoes payload once over it.
func openIdle(ctx context.Context, cfg config, payload, buf []byte) (io.Closer, error) {
	if cfg.tcp {
		nc, err := netDial(ctx, cfg.sources, hostPort(cfg))
		if err != nil {
			return nil, err
		}
		if _, err := nc.Write(payload); err != nil {
			nc.Close()
			return nil, err
		}
		if _, err := io.ReadFull(nc, buf[:len(payload)]); err != nil {
			nc.Close()
			return nil, err
		}
		return nc, nil
	}
	c, err := dialWS(ctx, cfg, "/echo")
	if err != nil {
		return nil, err
	}
	if err := c.WriteMessage(ctx, websocket.BinaryMessage, payload); err != nil {
		c.CloseNow()
		return nil, err
	}
	if _, _, err := c.ReadMessage(ctx); err != nil {
		c.CloseNow()
		return nil, err
	}
	return wsCloser{c}, nil
}
