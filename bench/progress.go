package bench

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress prints the live line: once a second, rewritten in place on a
// terminal, one line per second otherwise (logs and CI keep every line).
// The rate is acknowledgements over the last second: what the cluster
// actually does, whatever the schedule asks.
type progress struct {
	w   io.Writer
	tty bool
	c   *counters

	mu      sync.Mutex
	phase   string
	t0      time.Time // sending started
	warmEnd time.Time
	dirty   bool // a \r line is on screen without its newline

	quit chan struct{}
	done chan struct{}
}

func newProgress(w io.Writer, tty bool, c *counters) *progress {
	return &progress{w: w, tty: tty, c: c, phase: "connecting"}
}

// note prints a whole line, moving off a rewritten one first.
func (p *progress) note(s string) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLine()
	fmt.Fprintln(p.w, s)
}

func (p *progress) endLine() {
	if p.dirty {
		fmt.Fprintln(p.w)
		p.dirty = false
	}
}

// begin marks the start of sending.
func (p *progress) begin(t0, warmEnd time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.t0, p.warmEnd = t0, warmEnd
	p.phase = "sending"
	if warmEnd.After(t0) {
		p.phase = "warm-up"
	}
}

func (p *progress) setPhase(s string) {
	p.mu.Lock()
	p.phase = s
	p.mu.Unlock()
}

// start runs the ticker until stop.
func (p *progress) start() {
	if p.w == nil {
		return
	}
	p.quit, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		last, lastAcked := time.Now(), int64(0)
		for {
			select {
			case <-p.quit:
				return
			case now := <-tick.C:
				acked := p.c.acked.Load()
				rate := float64(acked-lastAcked) / now.Sub(last).Seconds()
				last, lastAcked = now, acked
				p.print(now, rate)
			}
		}
	}()
}

func (p *progress) print(now time.Time, rate float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.phase == "warm-up" && !now.Before(p.warmEnd) {
		p.phase = "sending"
	}
	var elapsed time.Duration
	if !p.t0.IsZero() {
		elapsed = now.Sub(p.t0)
	}
	line := fmt.Sprintf("%6.1fs %-9s sent %d  acked %d  delivered %d  errors %d  rate %.0f/s  in flight %d",
		elapsed.Seconds(), p.phase, p.c.sent.Load(), p.c.acked.Load(), p.c.delivered.Load(), p.c.errors.Load(), rate, p.c.inflight.Load())
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line) // \x1b[K clears what a longer line left
		p.dirty = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// stop ends the ticker and leaves the cursor on a fresh line.
func (p *progress) stop() {
	if p.w == nil || p.quit == nil {
		return
	}
	close(p.quit)
	<-p.done
	p.mu.Lock()
	p.endLine()
	p.mu.Unlock()
}
