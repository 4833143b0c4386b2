//go:build browser

package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Options shape one browser; the zero value is usable.
type Options struct {
	// Width and Height of the window and the emulated viewport, in CSS
	// pixels. Default 1280×800.
	Width, Height int
	// Step bounds one step (an action, an evaluation, a wait). The browser
	// itself lives as long as the test. Default 30 s.
	Step time.Duration
	// Poll is how often WaitFor evaluates its condition. Default 20 ms.
	Poll time.Duration
}

func (o Options) withDefaults() Options {
	if o.Width <= 0 || o.Height <= 0 {
		o.Width, o.Height = 1280, 800
	}
	if o.Step <= 0 {
		o.Step = 30 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 20 * time.Millisecond
	}
	return o
}

// Browser is one headless Chromium tab owned by a test.
type Browser struct {
	t     testing.TB
	ctx   context.Context
	opts  Options
	shots string

	mu       sync.Mutex
	problems []string
	expected []string // substrings of problems a test provoked (Expect)
}

// New starts Chromium for t and stops it, and everything it started, when
// t ends. Screenshots go to $SHARDGATE_SCREENSHOT_DIR, or to a temporary
// directory.
func New(t testing.TB, opts Options) *Browser {
	t.Helper()
	opts = opts.withDefaults()
	shots := os.Getenv("SHARDGATE_SCREENSHOT_DIR")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatalf("browsertest: screenshot dir: %v", err)
	}
	home := t.TempDir()
	profile := filepath.Join(home, "profile")
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocatorOptions(Find(t), home, profile, opts)...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	// The first step starts the browser and must carry no timeout, which
	// would end the browser with it.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(opts.Width), int64(opts.Height))); err != nil {
		cancelCtx()
		cancelAlloc()
		killLeftovers(t, nil, profile)
		t.Fatalf("browsertest: starting chromium: %v", err)
	}
	b := &Browser{t: t, ctx: ctx, opts: opts, shots: shots}
	proc := chromedp.FromContext(ctx).Browser.Process()
	done := b.recordProblems()
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		<-done
		killLeftovers(t, proc, profile)
	})
	return b
}

// recordProblems keeps every console error and exception of the session,
// because a page that throws while it "looks fine" is broken. The returned
// channel closes when the browser is gone.
func (b *Browser) recordProblems() <-chan struct{} {
	messages := chromedp.Console(b.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.problems = append(b.problems, m.String()+" ("+m.URL+")")
				b.mu.Unlock()
			}
		}
	}()
	return done
}

// Context is the browser's context, for chromedp calls the helpers here
// do not cover; bound them with a timeout.
func (b *Browser) Context() context.Context { return b.ctx }

// StepTimeout is the bound of one step.
func (b *Browser) StepTimeout() time.Duration { return b.opts.Step }
