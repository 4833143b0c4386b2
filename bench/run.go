package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/client"
)

// runner is the state of one Run.
type runner struct {
	cfg    Config
	runID  string
	peers  []*peer
	recips []*peer
	c      counters
	ack    Histogram // due → acknowledged
	e2e    Histogram // due → delivered to the recipient
	errs   errorLog  // failed send attempts
	drops  errorLog  // connections that broke, by close code
	prog   *progress
	// op makes the n-th send or publication, due at due.
	op  func(ctx context.Context, n uint64, due time.Time, warm bool)
	fan *fanout // nil unless cfg.Mode is ModeFanout
	// tallying is held for reading by each delivery while it is counted
	// and its latency recorded, and for writing while the report is
	// taken: receivers run on through the report, which must never see a
	// delivery counted but its latency not yet recorded.
	tallying sync.RWMutex
}

// Run opens the connections, sends for cfg.Warmup+cfg.Duration, waits up
// to cfg.Grace for deliveries and returns the report. Cancelling ctx stops
// the sending early; the run still finishes its in-flight sends, waits for
// deliveries and reports, with Interrupted set. An error means no report
// could be made (bad config, connections that would not open).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.normalized()
	var id [4]byte
	rand.Read(id[:])
	r := &runner{cfg: cfg, runID: hex.EncodeToString(id[:])}
	var err error
	if r.peers, err = newPeers(cfg, r.runID); err != nil {
		return nil, err
	}
	r.recips = r.peers[:cfg.recipients()]
	r.op = r.sendOne
	if cfg.Mode == ModeFanout {
		r.fan = newFanout(r)
		r.op = r.fan.publish
	}
	r.prog = newProgress(cfg.Progress, cfg.ProgressTTY, &r.c)
	for _, w := range cfg.Warnings() {
		r.prog.note("warning: " + w)
	}

	r.prog.note(fmt.Sprintf("opening %d connections to %d node(s)…", cfg.Conns, len(cfg.Nodes)))
	dctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	err = dialAll(dctx, r.peers)
	cancel()
	if err != nil {
		closeAll(r.peers)
		if ctx.Err() != nil {
			return nil, errors.New("interrupted while opening connections")
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("could not open %d connections within %v: %w", cfg.Conns, cfg.ConnectTimeout, err)
		}
		return nil, err
	}

	// Receivers outlive the sending: they stop only once the grace period
	// is over, and reconnect broken connections until then.
	stop, stopReceivers := context.WithCancel(context.Background())
	var receivers sync.WaitGroup
	for _, p := range r.peers {
		if r.fan != nil {
			receivers.Go(func() { r.fan.receive(stop, p) })
		} else {
			receivers.Go(func() { p.receive(stop, &r.c, &r.drops, r.onMessage) })
		}
	}
	defer func() {
		stopReceivers()
		closeAll(r.peers)
		receivers.Wait()
	}()
	if r.fan != nil {
		if err := r.fan.subscribeAll(ctx); err != nil {
			return nil, err
		}
	}

	cpu := newCPUMeter(cfg.Metrics)
	if err := cpu.start(ctx); err != nil {
		return nil, err
	}
	r.prog.start()
	win, interrupted := r.sendPhase(ctx)
	r.prog.stop()
	rep := r.report(win, interrupted)
	cpu.finish(ctx, rep, r.messages())
	return rep, nil
}

// messages is what node CPU is divided by: acknowledged sends, or
// deliveries of publications, warm-up included (the CPU readings span the
// whole run).
func (r *runner) messages() int64 {
	if r.fan != nil {
		return r.c.delivered.Load()
	}
	return r.c.acked.Load()
}

// window is the measured part of the run: from the end of the warm-up to
// when sending stopped.
type window struct {
	start, end time.Time
}

// seconds is the time from the window's start to last (a Unix ns stamp)
// or to its end, whichever is later.
func (w window) seconds(last int64) float64 {
	return max(later(w.end, time.Unix(0, last)).Sub(w.start).Seconds(), 0)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// sendPhase sends on schedule, then gives in-flight sends and deliveries
// their grace period.
func (r *runner) sendPhase(ctx context.Context) (window, bool) {
	// Sends may outlive ctx (a Ctrl-C still lets them finish), but not the
	// grace period after the schedule ends.
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	var sends sync.WaitGroup
	win, interrupted := r.schedule(ctx, sendCtx, &sends)
	if interrupted {
		r.prog.note(fmt.Sprintf("interrupted: finishing in-flight sends and waiting up to %v for deliveries (Ctrl-C again quits at once)", r.cfg.Grace+max(r.cfg.Grace, r.cfg.Timeout)))
	}
	r.prog.setPhase("draining")

	done := make(chan struct{})
	go func() { sends.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(max(r.cfg.Grace, r.cfg.Timeout)):
		cancelSends()
		<-done
	}

	deadline := time.Now().Add(r.cfg.Grace)
	for r.c.pending.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return win, interrupted
}

// schedule starts sends at the target rate, each at its own due time,
// without waiting for earlier ones to be answered (open loop). It returns
// the measured window, and whether ctx cut it short.
func (r *runner) schedule(ctx, sendCtx context.Context, sends *sync.WaitGroup) (window, bool) {
	if r.cfg.InFlight > 0 {
		return r.closedLoop(ctx, sendCtx, sends)
	}
	sem := make(chan struct{}, r.cfg.MaxInflight)
	start := time.Now()
	warmEnd := start.Add(r.cfg.Warmup)
	end := warmEnd.Add(r.cfg.Duration)
	r.prog.begin(start, warmEnd)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	interval := float64(time.Second) / r.cfg.Rate
	for n := uint64(0); ; n++ {
		due := start.Add(time.Duration(float64(n) * interval))
		if !due.Before(end) {
			// Later than end when the in-flight cap held the schedule back.
			return window{warmEnd, later(end, time.Now())}, false
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return window{warmEnd, time.Now()}, true
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return window{warmEnd, time.Now()}, true
		}
		warm := due.Before(warmEnd)
		r.c.sent.Add(1)
		if warm {
			r.c.sentWarm.Add(1)
		}
		sends.Go(func() {
			defer func() { <-sem }()
			r.op(sendCtx, n, due, warm)
		})
	}
}

// sendOne sends the n-th message from a connection in turn to a random
// recipient.
func (r *runner) sendOne(ctx context.Context, n uint64, due time.Time, warm bool) {
	from := r.peers[n%uint64(len(r.peers))]
	to := r.recips[mrand.IntN(len(r.recips))]
	r.send(ctx, from, to, n, due, warm)
}

// send delivers one message, retrying what may succeed later with the same
// idempotency id, so a retry never stores a second copy.
func (r *runner) send(ctx context.Context, from, to *peer, n uint64, due time.Time, warm bool) {
	r.c.inflight.Add(1)
	defer r.c.inflight.Add(-1)
	id := fmt.Sprintf("%s-%d", r.runID, n)
	data := makePayload(id, due, warm, r.cfg.Size)
	for attempt := 0; ; attempt++ {
		cl := from.client()
		actx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		res, err := cl.Send(actx, to.key, data, id)
		cancel()
		if err == nil {
			to.inbox.acked(res.Seq, warm, &r.c)
			if !warm {
				now := time.Now()
				r.ack.Record(now.Sub(due))
				stamp(&r.c.lastAck, now)
			}
			return
		}
		r.c.errors.Add(1)
		r.errs.note(err)
		if !retryable(err) || attempt >= r.cfg.Retries {
			r.c.failed.Add(1)
			if overloaded(err) {
				// A well-behaved client backs off before its next send
				// (in the closed loop, this worker's next one) instead
				// of answering an overloaded node with more load.
				select {
				case <-time.After(overloadBackoff):
				case <-ctx.Done():
				}
			}
			return
		}
		r.c.retries.Add(1)
		if errors.Is(err, client.ErrClosed) {
			from.waitNew(ctx, cl, r.cfg.Timeout)
		}
		select {
		case <-time.After(time.Duration(attempt+1) * 50 * time.Millisecond):
		case <-ctx.Done():
			r.c.failed.Add(1)
			return
		}
	}
}

// onMessage records a delivery to a recipient's connection.
func (r *runner) onMessage(p *peer, m shardgate.Message) {
	r.tallying.RLock()
	defer r.tallying.RUnlock()
	d, ok := parsePayload(m.Data, r.runID)
	if !ok || p.inbox == nil {
		r.c.foreign.Add(1)
		return
	}
	if p.inbox.delivered(m.Seq, d.Warm, &r.c) && !d.Warm {
		now := time.Now()
		r.e2e.Record(now.Sub(time.Unix(0, d.Due)))
		stamp(&r.c.lastDelivery, now)
	}
}
