package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shardgate/shardgate/test/checker"
)

// Suite is one run: a tier, a workload, the faults fired so far.
type Suite struct {
	opts  options
	tier  Tier
	admin *adminClient
	log   *slog.Logger
	rec   *checker.Recorder
	tl    *Timeline
	wl    *Workload

	mu      sync.Mutex
	members []string // the nodes that should be in the cluster right now
	faults  []*FaultRecord
	errs    []string // failures outside any fault (setup, final read)
}

// FaultRecord is what happened to one planned fault, with timestamps so a
// reader can line it up with the node logs.
type FaultRecord struct {
	Kind   string
	Target string
	Detail string
	Fired  bool
	Errors []string

	InjectedAt   time.Time // the injection began
	DetectedAt   time.Time // an observer first saw the target as not active
	FailedOverAt time.Time // an observer's table first gave the target no shard
	ResumedAt    time.Time // writes to every key were acknowledged again (resume probe)
	HealedAt     time.Time // the fault was undone (restart, resume, heal)
	ConvergedAt  time.Time // the cluster was back in a steady state
	EndedAt      time.Time

	Overload *OverloadFigures // the overload phase only
	Minority *MinorityFigures // faults that cut one node off from the rest
	DiskFull *DiskFullFigures // the disk-full fault only
}

func (r *FaultRecord) fail(format string, args ...any) {
	r.Errors = append(r.Errors, fmt.Sprintf(format, args...))
}

func (s *Suite) Members() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.members)
}

func (s *Suite) setMembers(m []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members = slices.Clone(m)
	slices.Sort(s.members)
}

// others are the members except the given ones.
func (s *Suite) others(except ...string) []string {
	var out []string
	for _, m := range s.Members() {
		if !slices.Contains(except, m) {
			out = append(out, m)
		}
	}
	return out
}

// endpoints are the WebSocket URLs clients may use: every member, down or
// not, as a client's configuration would list them.
func (s *Suite) endpoints() []string {
	var out []string
	for _, m := range s.Members() {
		out = append(out, s.tier.WSURL(m))
	}
	return out
}

func (s *Suite) failf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	s.errs = append(s.errs, msg)
	s.log.Error(msg)
}

// disruption describes a fault that is injected, held, then undone.
type disruption struct {
	kind, target, detail string
	inject               func(ctx context.Context) error
	hold                 time.Duration // longest hold
	early                bool          // end the hold once detected and failed over
	minHold              time.Duration
	heal                 func(ctx context.Context) error // nil: nothing to undo
	watch                bool                            // measure detection and failover of target
	after                []string                        // members once healed; nil: unchanged
	// resumeBound, when set, probes every key with writes from the
	// injection on: each must be acknowledged again within this bound of
	// the injection, while the fault still holds.
	resumeBound time.Duration
	// during runs alongside the hold (after a successful injection) and
	// is waited for before the heal.
	during func(ctx context.Context, rec *FaultRecord, until time.Time)
}

// disrupt runs one disruption and records it. The cluster must then come
// back to a steady state within the convergence bound, or the fault is
// marked failed: a cluster that never heals is not available, however safe.
func (s *Suite) disrupt(ctx context.Context, d disruption) *FaultRecord {
	rec := &FaultRecord{Kind: d.kind, Target: d.target, Detail: d.detail}
	s.mu.Lock()
	s.faults = append(s.faults, rec)
	s.mu.Unlock()
	defer func() { rec.EndedAt = time.Now() }()
	s.log.Info("fault: inject", "kind", d.kind, "target", d.target, "detail", d.detail)
	observers := s.others(d.target)
	// The fault starts when its injection starts: a multi-step injection
	// (cut, then kill) may already be detected before it returns.
	rec.InjectedAt = time.Now()
	err := d.inject(ctx)
	if err != nil {
		rec.fail("inject: %v", err)
		s.log.Error("fault did not fire", "kind", d.kind, "err", err)
	} else {
		rec.Fired = true
		until := time.Now().Add(d.hold)
		var side sync.WaitGroup
		if d.resumeBound > 0 {
			side.Add(1)
			go func() { defer side.Done(); s.checkResume(ctx, rec, until, d.resumeBound) }()
		}
		if d.during != nil {
			side.Add(1)
			go func() { defer side.Done(); d.during(ctx, rec, until) }()
		}
		if d.watch {
			s.watch(ctx, rec, d.target, observers, until, d.early, d.minHold)
		} else {
			sleepCtx(ctx, time.Until(until))
		}
		side.Wait()
	}
	if d.heal != nil {
		if err := d.heal(ctx); err != nil {
			rec.fail("heal: %v", err)
		}
	}
	rec.HealedAt = time.Now()
	if d.after != nil {
		s.setMembers(d.after)
	}
	s.converge(ctx, rec)
	return rec
}

// checkResume runs the resume probe while the fault holds and fails the
// fault when some key took writes again later than bound, or never did.
func (s *Suite) checkResume(ctx context.Context, rec *FaultRecord, until time.Time, bound time.Duration) {
	at, pending := s.resumeProbe(ctx, until)
	if len(pending) > 0 {
		rec.fail("writes to %d keys (%s) were not acknowledged again while the fault held (%s)", len(pending),
			strings.Join(pending[:min(5, len(pending))], ","), until.Sub(rec.InjectedAt).Round(time.Second))
		return
	}
	rec.ResumedAt = at
	took := at.Sub(rec.InjectedAt)
	s.log.Info("fault: writes acknowledged again for every key", "kind", rec.Kind, "after_injection", took.Round(time.Millisecond))
	if took > bound {
		rec.fail("writes were acknowledged again for every key %s after the injection; the bound is %s", took.Round(time.Millisecond), bound)
	}
}

// converge waits for the steady state after a fault and records it.
func (s *Suite) converge(ctx context.Context, rec *FaultRecord) {
	at, err := s.waitConverged(ctx, s.Members(), s.opts.converge)
	if err != nil {
		rec.fail("%v", err)
		s.log.Error("fault: no convergence", "kind", rec.Kind, "err", err)
		return
	}
	rec.ConvergedAt = at
	s.log.Info("fault: converged", "kind", rec.Kind, "after_heal", at.Sub(rec.HealedAt).Round(time.Millisecond), "progress", s.wl.Progress())
}

// record adds a fault record made outside disrupt (multi-step faults).
func (s *Suite) record(kind, target, detail string) *FaultRecord {
	rec := &FaultRecord{Kind: kind, Target: target, Detail: detail}
	s.mu.Lock()
	s.faults = append(s.faults, rec)
	s.mu.Unlock()
	return rec
}
