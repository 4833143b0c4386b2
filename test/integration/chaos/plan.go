package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Fault kinds, one scorecard row each.
const (
	faultKill9Restart   = "kill9+restart"
	faultPause          = "pause (SIGSTOP/SIGCONT)"
	faultPartition21    = "partition 2|1"
	faultOneWay         = "partition one-way"
	faultIsolateOwner   = "isolate top owner"
	faultRolling        = "rolling restart"
	faultJoin           = "join"
	faultDrain          = "drain"
	faultKill9NoRestart = "kill9 no restart"
	faultUnreplicated   = "kill9 after unreplicated acks"
	faultOverload       = "overload 3×"
	faultDiskFull       = "disk full"
)

// oneWayResumeBound is how soon after a one-way cut between two of three
// nodes every key must take writes again: the link check needs
// LinkFailAfter (2.5 s) to call the peer unreachable, then a stats round
// and a table change; 5 s leaves the rest for the clients' retries.
const oneWayResumeBound = 5 * time.Second

// composeOneWayResumeBound is the same bound for the compose tier. There
// every failure is noticed later than between namespaces (kill -9 is
// detected in about 2.8 s instead of 1.5 s, a one-way cut in 3.9–6.4 s
// instead of 2.6 s: containers on a Docker bridge, the Docker daemon and
// the driver sharing the cores), and writes came back 4.8 s after the cut
// in a run of that fault alone and 7.1 s after it within the full plan.
// The engine's 5 s is judged in the process tier; here the figure is
// printed and a cut that never heals itself still fails.
const composeOneWayResumeBound = 10 * time.Second

// oneWayBound is the resume bound of the tier in use.
func (s *Suite) oneWayBound() time.Duration {
	if s.tier.Name() == "compose" {
		return composeOneWayResumeBound
	}
	return oneWayResumeBound
}

// plans lists, per plan, the fault kinds it must fire: a run passes only if
// every one of them fired.
var plans = map[string][]string{
	"full": {faultKill9Restart, faultPause, faultPartition21, faultOneWay, faultOverload, faultDiskFull,
		faultIsolateOwner, faultRolling, faultJoin, faultDrain, faultKill9NoRestart},
	// broken is short: it exists to prove the checker catches a node that
	// acknowledges before its backups commit.
	"broken": {faultUnreplicated, faultUnreplicated},
	// oneway fires only the one-way partition: a short run for working on
	// it (the full plan holds it too).
	"oneway":   {faultOneWay},
	"overload": {faultOverload},
	"diskfull": {faultDiskFull},
}

// runPlan fires the plan's faults in order under load.
func (s *Suite) runPlan(ctx context.Context, plan string) {
	for i, kind := range plans[plan] {
		if ctx.Err() != nil {
			return
		}
		s.log.Info("phase", "n", i+1, "of", len(plans[plan]), "fault", kind, "progress", s.wl.Progress())
		s.fire(ctx, kind)
		sleepCtx(ctx, s.opts.settle) // load on a healthy cluster between faults
	}
}

func (s *Suite) fire(ctx context.Context, kind string) {
	m := s.Members()
	hold := s.opts.hold
	switch kind {
	case faultKill9Restart:
		t := s.coordinator(ctx)
		s.disrupt(ctx, disruption{kind: kind, target: t, detail: "kill -9 the coordinator; restart once its shards failed over",
			inject: func(ctx context.Context) error { return s.tier.Kill(ctx, t) },
			hold:   30 * time.Second, early: true, minHold: 2 * time.Second, watch: true,
			heal: func(ctx context.Context) error { return s.tier.Start(ctx, t) }})
	case faultPause:
		t := m[1%len(m)]
		s.disrupt(ctx, disruption{kind: kind, target: t, detail: fmt.Sprintf("frozen %s, longer than failure detection", hold),
			inject: func(ctx context.Context) error { return s.tier.Pause(ctx, t) },
			hold:   hold, watch: true,
			heal: func(ctx context.Context) error { return s.tier.Resume(ctx, t) }})
	case faultPartition21:
		t := m[len(m)-1]
		s.disrupt(ctx, disruption{kind: kind, target: t, detail: fmt.Sprintf("{%s} | {%s}, both ways, %s", strings.Join(s.others(t), ","), t, hold),
			inject: func(ctx context.Context) error { return s.cutBothWays(ctx, t) },
			hold:   hold, watch: true, heal: s.tier.Heal, during: s.minorityProbe(t)})
	case faultOneWay:
		from, to := m[0], m[1%len(m)]
		s.disrupt(ctx, disruption{kind: kind, target: from, detail: fmt.Sprintf("%s drops every packet from %s, %s", to, from, hold),
			inject: func(ctx context.Context) error { return s.tier.Cut(ctx, from, to) },
			hold:   hold, watch: true, heal: s.tier.Heal, resumeBound: s.oneWayBound()})
	case faultIsolateOwner:
		t := s.topOwner(ctx)
		s.disrupt(ctx, disruption{kind: kind, target: t, detail: fmt.Sprintf("%s (most shards) off the network, %s", t, hold),
			inject: func(ctx context.Context) error { return s.tier.Isolate(ctx, t) },
			hold:   hold, watch: true, heal: s.tier.Heal})
	case faultRolling:
		s.rollingRestart(ctx)
	case faultJoin:
		s.join(ctx)
	case faultDrain:
		s.drain(ctx)
	case faultOverload:
		s.overload(ctx)
	case faultDiskFull:
		s.diskFull(ctx)
	case faultKill9NoRestart:
		t := s.topOwner(ctx)
		s.disrupt(ctx, disruption{kind: kind, target: t, detail: "kill -9 the top owner for good; the rest must re-replicate",
			inject: func(ctx context.Context) error { return s.tier.Kill(ctx, t) },
			hold:   30 * time.Second, early: true, minHold: 2 * time.Second, watch: true,
			after: s.others(t)})
	case faultUnreplicated:
		t := s.topOwner(ctx)
		s.disrupt(ctx, disruption{kind: kind, target: t, detail: "cut its packets to peers for 1.5 s while it acks, kill -9, restart",
			inject: func(ctx context.Context) error { return s.killAfterUnreplicatedAcks(ctx, t) },
			hold:   30 * time.Second, early: true, minHold: 2 * time.Second, watch: true,
			heal: func(ctx context.Context) error { return s.tier.Start(ctx, t) }})
	default:
		s.failf("unknown fault %q", kind)
	}
}

// cutBothWays separates t from every other member in both directions.
func (s *Suite) cutBothWays(ctx context.Context, t string) error {
	for _, o := range s.others(t) {
		if err := s.tier.Cut(ctx, t, o); err != nil {
			return err
		}
		if err := s.tier.Cut(ctx, o, t); err != nil {
			return err
		}
	}
	return nil
}

// killAfterUnreplicatedAcks lets t go on acknowledging (clients still reach
// it) while nothing it sends reaches its peers, then kills it: whatever it
// acknowledged in that time exists nowhere else. A correct node cannot
// acknowledge then, since its backups never confirm.
func (s *Suite) killAfterUnreplicatedAcks(ctx context.Context, t string) error {
	for _, o := range s.others(t) {
		if err := s.tier.Cut(ctx, t, o); err != nil {
			return err
		}
	}
	before := s.tl.Acks()
	sleepCtx(ctx, 1500*time.Millisecond)
	s.log.Info("acks while cut", "node", t, "acks", s.tl.Acks()-before)
	if err := s.tier.Kill(ctx, t); err != nil {
		return err
	}
	return s.tier.Heal(ctx)
}

// coordinator asks the members who coordinates; the first member if no
// one answers.
func (s *Suite) coordinator(ctx context.Context) string {
	for _, m := range s.Members() {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		v, err := s.admin.Cluster(cctx, s.tier.AdminURL(m))
		cancel()
		if err == nil && v.Coordinator != "" && slices.Contains(s.Members(), v.Coordinator) {
			return v.Coordinator
		}
	}
	return s.Members()[0]
}

// topOwner is the member that owns the most shards right now.
func (s *Suite) topOwner(ctx context.Context) string {
	for _, m := range s.Members() {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		p, err := s.admin.Partitions(cctx, s.tier.AdminURL(m))
		cancel()
		if err != nil {
			continue
		}
		best, n := "", -1
		for _, c := range s.Members() {
			if o := owned(p, c); o > n {
				best, n = c, o
			}
		}
		return best
	}
	return s.Members()[0]
}
