package node

import (
	"slices"
	"sort"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/cluster"
	"github.com/shardgate/shardgate/shard"
)

// The planning step of the coordinator, as pure functions: the same
// inputs give the same table on every node, and nothing here reads the
// clock, the network or a lock.

// clusterView is what a planning step knows of the cluster: the live
// members (memberlist alive or suspect and reachable over the links),
// how members that went away went (left or dead), and this node's name.
type clusterView struct {
	self     string
	members  map[string]cluster.Member
	departed map[string]string // name → shardgate.StateLeft or StateDead
}

// clusterBackups is the B the cluster plans with: the most that own (this
// node's --backups) or any live member asks for. A member of an older
// version that does not say counts as asking for none.
func clusterBackups(own int, members map[string]cluster.Member) int {
	b := own
	for _, m := range members {
		if isLive(m) && m.Meta.Copies-1 > b {
			b = m.Meta.Copies - 1
		}
	}
	return b
}

// planInput is everything one planning step depends on.
type planInput struct {
	cur       shard.Table
	ops       shard.Ops
	view      clusterView
	completed []copiedReq // copies reported complete, not yet in a table
	shard     shard.Config
	// maxPending caps concurrent copies into one node.
	maxPending int
}

// planOutput is the table that should follow the input's, the table the
// active members should end up with, and the completions still waiting
// for a table that lists them no longer as pending.
type planOutput struct {
	next, desired shard.Table
	changed       bool
	completed     []copiedReq
}

// isFailed reports whether ops fails this incarnation of m over.
func isFailed(ops shard.Ops, m cluster.Member) bool {
	at, ok := ops.Failed[m.Name]
	return ok && at == m.Meta.StartedAt
}

// hypothesis adjusts the view for an action not yet carried out: a node to
// count as no longer active (drain) or as active again (readmit).
type hypothesis struct {
	inactive, active string
}

// liveAndActive returns the live members (holders may stay) and the active
// ones (the desired homes) under ops.
func liveAndActive(v clusterView, ops shard.Ops, h hypothesis) (alive map[string]bool, active []string) {
	alive = map[string]bool{}
	for name, m := range v.members {
		state := m.Meta.State
		if name == h.active {
			state = shardgate.StateActive
		}
		if isFailed(ops, m) || state == shardgate.StateLeft || state == shardgate.StateFailed {
			continue
		}
		alive[name] = true
		if state == shardgate.StateActive && name != h.inactive {
			active = append(active, name)
		}
	}
	sort.Strings(active)
	return alive, active
}

// desiredTable is the table the active members should end up with,
// operator moves applied.
func desiredTable(active []string, overrides map[int]string, cfg shard.Config) shard.Table {
	d := shard.Assign(active, cfg)
	ids := make([]int, 0, len(overrides))
	for id := range overrides {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		if nd, err := shard.WithOwner(d, id, overrides[id], cfg); err == nil {
			d = nd
		}
	}
	return d
}

// cleanOps drops operator state that no longer applies: overrides onto
// nodes that are not active, failovers of processes that are gone. It
// lists as dead the members that vanished without leaving.
func cleanOps(cur shard.Table, ops shard.Ops, active []string, v clusterView) shard.Ops {
	out := shard.Ops{}
	for id, to := range ops.Overrides {
		if slices.Contains(active, to) {
			if out.Overrides == nil {
				out.Overrides = map[int]string{}
			}
			out.Overrides[id] = to
		}
	}
	for name, at := range ops.Failed {
		if m, ok := v.members[name]; ok && m.Meta.StartedAt == at {
			if out.Failed == nil {
				out.Failed = map[string]int64{}
			}
			out.Failed[name] = at
		}
	}
	dead := map[string]bool{}
	for _, name := range slices.Concat(cur.Members, ops.Dead) {
		dead[name] = true
	}
	for name := range ops.Failed {
		dead[name] = true
	}
	for name := range dead {
		if _, ok := v.members[name]; ok || name == v.self || v.departed[name] == shardgate.StateLeft {
			continue
		}
		out.Dead = append(out.Dead, name)
	}
	sort.Strings(out.Dead)
	return out
}

// nextTable computes the table that should follow in.cur under in.ops.
// Completed copies are applied while the table still lists their node as
// pending; the others are dropped from the output's list.
func nextTable(in planInput) planOutput {
	cur := in.cur
	alive, active := liveAndActive(in.view, in.ops, hypothesis{})
	if len(active) == 0 {
		return planOutput{next: cur, desired: cur, completed: in.completed}
	}
	ops := cleanOps(cur, in.ops, active, in.view)
	desired := desiredTable(active, ops.Overrides, in.shard)
	var nt shard.Table
	var kept []copiedReq
	if cur.Version == 0 {
		nt = desired.Clone()
		kept = in.completed
	} else {
		base := cur.Clone()
		for _, r := range in.completed {
			// A completion stays until the table no longer lists the node
			// as pending: it may take more than one step to publish.
			if r.Shard >= 0 && r.Shard < len(base.Shards) && slices.Contains(base.Shards[r.Shard].Pending, r.Node) && fromHome(r, base.Shards[r.Shard]) {
				base = shard.Complete(base, r.Shard, r.Node)
				kept = append(kept, r)
			}
		}
		nt = shard.Plan(base, desired, func(s string) bool { return alive[s] }, shard.PlanOptions{MaxPendingPerNode: in.maxPending})
	}
	var members []string
	for name := range alive {
		members = append(members, name)
	}
	sort.Strings(members)
	nt.Members = members
	nt.Partitions = in.shard.Partitions
	nt.Backups = in.shard.Backups
	nt.Ops = ops
	nt.EventSeq, nt.Events = cur.EventSeq, nil
	changed := cur.Version == 0 || !nt.SameAssignment(cur) || !slices.Equal(nt.Members, cur.Members) || !nt.Ops.Equal(cur.Ops)
	return planOutput{next: nt, desired: desired, changed: changed, completed: kept}
}

// fromHome reports whether r was made by the shard's home in a: a copy
// made by an earlier home is void, since the home that took over resets the
// holder and copies again, and applying the earlier report while that copy
// is half done would make a holder of a node missing messages. A report
// that names no home (an older node's) is taken as before.
func fromHome(r copiedReq, a shard.Assignment) bool {
	return r.From == "" || r.From == a.Owner
}

// departureOf says why name is no longer a member of the table.
func departureOf(name string, ops shard.Ops, v clusterView) (string, string) {
	if _, ok := ops.Failed[name]; ok {
		return shardgate.StateFailed, name + " was failed over by an operator"
	}
	if m, ok := v.members[name]; ok {
		switch m.Meta.State {
		case shardgate.StateLeft, shardgate.StateDraining:
			return shardgate.StateLeft, name + " finished draining and left"
		case shardgate.StateFailed:
			return shardgate.StateFailed, name + " was failed over by an operator"
		}
		return m.Meta.State, name + " is " + m.Meta.State
	}
	if v.departed[name] == shardgate.StateLeft {
		return shardgate.StateLeft, name + " left the cluster"
	}
	return shardgate.StateDead, name + " stopped answering: failure detection declared it dead"
}
