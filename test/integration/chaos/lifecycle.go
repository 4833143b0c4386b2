package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shardgate/shardgate"
)

// rollingRestart stops every member gracefully (SIGTERM: hand off, leave)
// and starts it again, one at a time, waiting for the cluster to converge
// before touching the next, as an operator upgrading the cluster would.
func (s *Suite) rollingRestart(ctx context.Context) {
	rec := s.record(faultRolling, "all", "")
	defer func() { rec.EndedAt = time.Now() }()
	rec.InjectedAt = time.Now()
	rec.Fired = true
	var steps []string
	for _, m := range s.Members() {
		t0 := time.Now()
		if err := s.tier.Stop(ctx, m); err != nil {
			rec.fail("stop %s: %v", m, err)
			rec.Fired = false
		}
		stopped := time.Since(t0)
		if err := s.tier.Start(ctx, m); err != nil {
			rec.fail("start %s: %v", m, err)
			rec.Fired = false
			continue
		}
		rec.HealedAt = time.Now()
		at, err := s.waitConverged(ctx, s.Members(), s.opts.converge)
		if err != nil {
			rec.fail("after restarting %s: %v", m, err)
			steps = append(steps, fmt.Sprintf("%s stop %s, no convergence", m, stopped.Round(100*time.Millisecond)))
			continue
		}
		rec.ConvergedAt = at
		steps = append(steps, fmt.Sprintf("%s stop %s converge %s", m, stopped.Round(100*time.Millisecond), at.Sub(rec.HealedAt).Round(100*time.Millisecond)))
		s.log.Info("rolling restart: node back", "node", m, "progress", s.wl.Progress())
	}
	rec.Detail = strings.Join(steps, "; ")
	if len(rec.Errors) > 0 {
		rec.ConvergedAt = time.Time{}
	}
}

// join starts the spare node under load. Detection is when a member first
// lists it active; "failover" is when it first owns a shard.
func (s *Suite) join(ctx context.Context) {
	n := s.tier.Spare()
	rec := s.record(faultJoin, n, "start a fresh node; the table must give it shards")
	defer func() { rec.EndedAt = time.Now() }()
	rec.InjectedAt = time.Now()
	if err := s.tier.Start(ctx, n); err != nil {
		rec.fail("start %s: %v", n, err)
		return
	}
	rec.Fired = true
	old := s.Members()
	s.setMembers(append(old, n))
	deadline := time.Now().Add(s.opts.converge)
	for time.Now().Before(deadline) && ctx.Err() == nil && rec.FailedOverAt.IsZero() {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		v, err := s.admin.Cluster(cctx, s.tier.AdminURL(old[0]))
		if err == nil && rec.DetectedAt.IsZero() && stateOf(v, n) == shardgate.StateActive {
			rec.DetectedAt = time.Now()
		}
		if p, err := s.admin.Partitions(cctx, s.tier.AdminURL(old[0])); err == nil && owned(p, n) > 0 {
			rec.FailedOverAt = time.Now()
		}
		cancel()
		sleepCtx(ctx, 250*time.Millisecond)
	}
	if rec.FailedOverAt.IsZero() {
		rec.fail("%s was given no shard within %s", n, s.opts.converge)
	}
	rec.HealedAt = rec.FailedOverAt // nothing to undo: settling starts once it holds shards
	s.converge(ctx, rec)
}

// drain asks the cluster (through another member) to drain the first
// member, waits until it owns nothing and has left, then stops it.
func (s *Suite) drain(ctx context.Context) {
	m := s.Members()
	t := m[0]
	via := s.others(t)[0]
	rec := s.record(faultDrain, t, "POST /v1/nodes/"+t+"/drain via "+via+", then stop it")
	defer func() { rec.EndedAt = time.Now() }()
	// From here the node may leave and exit on its own: that is the point.
	s.tier.Release(t)
	rec.InjectedAt = time.Now()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := s.admin.Drain(cctx, s.tier.AdminURL(via), t)
	cancel()
	if err != nil {
		rec.fail("drain: %v", err)
		return
	}
	rec.Fired = true
	deadline := time.Now().Add(s.opts.converge)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		v, verr := s.admin.Cluster(cctx, s.tier.AdminURL(via))
		p, perr := s.admin.Partitions(cctx, s.tier.AdminURL(via))
		cancel()
		if verr == nil && rec.DetectedAt.IsZero() && stateOf(v, t) != shardgate.StateActive {
			rec.DetectedAt = time.Now() // draining (or already gone)
		}
		if perr == nil && rec.FailedOverAt.IsZero() && owned(p, t) == 0 && !backsUp(p, t) {
			rec.FailedOverAt = time.Now()
		}
		if verr == nil && !rec.FailedOverAt.IsZero() && !slices.Contains([]string{shardgate.StateActive, shardgate.StateDraining, shardgate.StateJoining}, stateOf(v, t)) {
			break
		}
		sleepCtx(ctx, 250*time.Millisecond)
	}
	if rec.FailedOverAt.IsZero() {
		rec.fail("%s still holds shards %s after the drain", t, s.opts.converge)
	}
	s.setMembers(s.others(t))
	if err := s.tier.Stop(ctx, t); err != nil && !strings.Contains(err.Error(), "not running") {
		rec.fail("stop %s after the drain: %v", t, err)
	}
	rec.HealedAt = time.Now()
	s.converge(ctx, rec)
}

// backsUp reports whether name still holds a backup of some shard.
func backsUp(p shardgate.PartitionsView, name string) bool {
	for _, sh := range p.Partitions {
		if slices.Contains(sh.Backups, name) || slices.Contains(sh.Pending, name) {
			return true
		}
	}
	return false
}
