package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tornago/tornago/internal/testenv"
)

// Timeouts: every browser action is bounded, so a page that never shows
// what a test waits for fails the test instead of hanging it.
const (
	startTimeout  = 30 * time.Second // launching Chromium and opening its first tab
	actionTimeout = 10 * time.Second // one navigation, evaluation or wait
	// reconnectTimeout bounds the wait for a page to reconnect by itself
	// after a server restart: reconnect.js backs off up to maxDelay (30 s
	// in both examples) between attempts, so how long depends on how long
	// the restart took, not on anything the test checks.
	reconnectTimeout = 30*time.Second + actionTimeout
)

// findChromium returns the browser to run: $CHROMIUM, else Debian's
// /usr/bin/chromium, else chromium or chromium-browser on PATH.
func findChromium() (string, bool) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		p, err := exec.LookPath(p)
		return p, err == nil
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// requireChromium returns findChromium's browser, or skips (or fails) t.
// Tests call it first, before starting servers for a browser they cannot
// have.
func requireChromium(t *testing.T) string {
	t.Helper()
	p, ok := findChromium()
	if !ok {
		testenv.Missing(t, "chromium (Debian package chromium; e2e/ci-install.sh)")
	}
	return p
}

// browser is one headless Chromium process with a fresh profile, ended when
// the test ends.
type browser struct {
	ctx    context.Context // of the first tab; new tabs derive from it
	output *syncBuffer     // Chromium's stdout and stderr
}

// newBrowser starts Chromium with the flags this closed network needs
// (nothing of Chromium's own reaches out: no background networking,
// component updates, sync or QUIC) and a new user data directory that
// chromedp removes afterwards; extra adds allocator options. The cleanup
// waits until the process and its children have exited.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	b := &browser{output: &syncBuffer{}}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(requireChromium(t)),
		chromedp.NoSandbox, // the tests run as root in CI, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1024, 768),
		chromedp.CombinedOutput(b.output),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // waits for Chromium to exit
		if t.Failed() {
			t.Logf("chromium output (D-Bus complaints left out):\n%s", withoutDBus(b.output.String()))
		}
	})

	// The first Do binds the browser's life to its context, so it cannot
	// carry a timeout itself; a timer ends the allocator instead.
	timer := time.AfterFunc(startTimeout, cancelAlloc)
	err := chromedp.Do(ctx)
	if !timer.Stop() {
		err = fmt.Errorf("no tab within %v: %w", startTimeout, err)
	}
	if err != nil {
		t.Fatalf("starting chromium: %v\n%s", err, b.output)
	}
	b.ctx = ctx
	return b
}

// page is one browser tab, with what the page wrote to its console.
type page struct {
	t       *testing.T
	name    string
	ctx     context.Context
	console *syncBuffer
}

// newPage opens a tab in b (with chromedp.WithNewBrowserContext among opts,
// in a separate cookie jar) and records its console, which the test log
// shows if the test fails. The tab closes when the test ends.
func (b *browser) newPage(t *testing.T, name string, opts ...chromedp.ContextOption) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, opts...)
	p := &page{t: t, name: name, ctx: ctx, console: &syncBuffer{}}
	messages := chromedp.Console(ctx) // opens the tab
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			fmt.Fprintf(p.console, "%s %s\n", m.Time.Format("15:04:05.000"), m)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("console of page %s:\n%s", name, p.console)
		}
	})
	// Surface a tab that failed to open now rather than at the first action.
	p.do(chromedp.Evaluate[chromedp.Void](`1`))
	return p
}

// timeout bounds one action on p.
func (p *page) timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.ctx, actionTimeout)
}

// do runs actions on p in order and fails the test on the first error.
func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := p.timeout()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("page %s: %v", p.name, err)
	}
}

// run runs one action on p and returns its value, failing the test on error.
func run[T any](p *page, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := p.timeout()
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("page %s: %v", p.name, err)
	}
	return v
}

// eval evaluates a JavaScript expression on p (awaiting a promise) and
// decodes its value into T.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	return run(p, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// navigate loads url in p and waits for its load event.
func (p *page) navigate(url string) {
	p.t.Helper()
	p.do(chromedp.Navigate(url))
}

// waitJS waits until the JavaScript expression is truthy on p; what says
// what the test waits for, in the failure message.
func (p *page) waitJS(expr, what string) {
	p.t.Helper()
	p.waitJSWithin(expr, what, actionTimeout)
}

// waitJSWithin is waitJS with another bound, for waits whose length the
// page decides (a reconnect back-off).
func (p *page) waitJSWithin(expr, what string, timeout time.Duration) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(20*time.Millisecond),
		chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		if errors.Is(err, chromedp.ErrPollingTimeout) || errors.Is(err, context.DeadlineExceeded) {
			p.t.Fatalf("page %s: waited %v for %s (%s)", p.name, timeout, what, expr)
		}
		p.t.Fatalf("page %s: waiting for %s: %v", p.name, what, err)
	}
}

// consoleContains reports whether the page's console has a line holding s.
func (p *page) consoleContains(s string) bool {
	return strings.Contains(p.console.String(), s)
}

// withoutDBus drops the lines of Chromium's output about the D-Bus it cannot
// reach in a container, which say nothing about a failing test.
func withoutDBus(output string) string {
	var kept []string
	for line := range strings.Lines(output) {
		if !strings.Contains(line, "dbus") {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "")
}
