package main

import (
	"context"
	"fmt"
	"time"

	"github.com/shardgate/shardgate"
)

// checkConverged says why the cluster is not (yet) in the steady state a
// fault must end in, or nil when it is: every member ready and active in
// every member's view, no one else active, quorum everywhere, one table
// version everywhere, and every shard stable, fully replicated and held
// only by members.
func (s *Suite) checkConverged(ctx context.Context, members []string) error {
	want := map[string]bool{}
	for _, m := range members {
		want[m] = true
	}
	var version uint64
	backups := 1
	for i, m := range members {
		base := s.tier.AdminURL(m)
		if err := s.admin.Ready(ctx, base); err != nil {
			return fmt.Errorf("%s is not ready: %v", m, err)
		}
		v, err := s.admin.Cluster(ctx, base)
		if err != nil {
			return fmt.Errorf("%s: %v", m, err)
		}
		if !v.Quorum {
			return fmt.Errorf("%s reports no quorum", m)
		}
		if i == 0 {
			version, backups = v.Version, v.Backups
		} else if v.Version != version {
			return fmt.Errorf("%s has table v%d, %s has v%d", m, v.Version, members[0], version)
		}
		seen := map[string]bool{}
		for _, nv := range v.Nodes {
			seen[nv.Name] = true
			live := nv.State == shardgate.StateActive || nv.State == shardgate.StateJoining || nv.State == shardgate.StateDraining
			if want[nv.Name] && nv.State != shardgate.StateActive {
				return fmt.Errorf("%s sees %s as %s", m, nv.Name, nv.State)
			}
			if !want[nv.Name] && live {
				return fmt.Errorf("%s still sees %s as %s", m, nv.Name, nv.State)
			}
		}
		for _, o := range members {
			if !seen[o] {
				return fmt.Errorf("%s does not know %s", m, o)
			}
		}
	}
	p, err := s.admin.Partitions(ctx, s.tier.AdminURL(members[0]))
	if err != nil {
		return err
	}
	if p.Version != version {
		return fmt.Errorf("partitions at v%d, cluster at v%d", p.Version, version)
	}
	copies := min(backups, len(members)-1)
	for _, sh := range p.Partitions {
		switch {
		case sh.State != shardgate.ShardStable:
			return fmt.Errorf("shard %d is %s", sh.ID, sh.State)
		case sh.UnderReplicated:
			return fmt.Errorf("shard %d is under-replicated", sh.ID)
		case !want[sh.Owner]:
			return fmt.Errorf("shard %d is owned by %q", sh.ID, sh.Owner)
		case len(sh.Backups) != copies:
			return fmt.Errorf("shard %d has backups %v, want %d", sh.ID, sh.Backups, copies)
		}
		for _, b := range sh.Backups {
			if !want[b] || b == sh.Owner {
				return fmt.Errorf("shard %d is backed up on %q", sh.ID, b)
			}
		}
	}
	return nil
}

// waitConverged polls until checkConverged passes, for at most bound, and
// returns when it first did.
func (s *Suite) waitConverged(ctx context.Context, members []string, bound time.Duration) (time.Time, error) {
	deadline := time.Now().Add(bound)
	var last error
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		last = s.checkConverged(pctx, members)
		cancel()
		if last == nil {
			return time.Now(), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Time{}, fmt.Errorf("not converged after %s: %v", bound.Round(time.Second), last)
		}
		sleepCtx(ctx, 300*time.Millisecond)
	}
}

// watch polls the cluster as the observers see it until `until`, noting
// when the target was first seen as not active (detection) and when it
// first owned no shard (failover). With early, it returns as soon as both
// happened and at least minHold has passed.
func (s *Suite) watch(ctx context.Context, rec *FaultRecord, target string, observers []string, until time.Time, early bool, minHold time.Duration) {
	start := time.Now()
	for time.Now().Before(until) && ctx.Err() == nil {
		for _, o := range observers {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			v, err := s.admin.Cluster(pctx, s.tier.AdminURL(o))
			if err == nil && rec.DetectedAt.IsZero() && stateOf(v, target) != shardgate.StateActive {
				rec.DetectedAt = time.Now()
			}
			var p shardgate.PartitionsView
			if err == nil && rec.FailedOverAt.IsZero() {
				if p, err = s.admin.Partitions(pctx, s.tier.AdminURL(o)); err == nil && owned(p, target) == 0 {
					rec.FailedOverAt = time.Now()
				}
			}
			cancel()
			if err == nil {
				break // one observer that answers is enough
			}
		}
		if early && !rec.DetectedAt.IsZero() && !rec.FailedOverAt.IsZero() && time.Since(start) >= minHold {
			return
		}
		sleepCtx(ctx, 250*time.Millisecond)
	}
}

// stateOf is the target's state in a view, "absent" when it is not listed.
func stateOf(v shardgate.ClusterView, name string) string {
	for _, n := range v.Nodes {
		if n.Name == name {
			return n.State
		}
	}
	return "absent"
}

func owned(p shardgate.PartitionsView, name string) int {
	c := 0
	for _, sh := range p.Partitions {
		if sh.Owner == name {
			c++
		}
	}
	return c
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
