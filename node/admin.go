package node

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/cluster"
	"github.com/shardgate/shardgate/shard"
)

// Rebalance forgets operator moves and re-plans the table now.
func (n *Node) Rebalance(ctx context.Context) (shardgate.MoveReport, error) {
	return n.Act(ctx, shardgate.Action{Kind: shardgate.ActionRebalance})
}

// Failover treats node as failed now: its backups are promoted.
func (n *Node) Failover(ctx context.Context, node string) (shardgate.MoveReport, error) {
	return n.Act(ctx, shardgate.Action{Kind: shardgate.ActionFailover, Node: node})
}

// MoveShard makes node the home of shard id.
func (n *Node) MoveShard(ctx context.Context, id int, to string) (shardgate.MoveReport, error) {
	return n.Act(ctx, shardgate.Action{Kind: shardgate.ActionMove, Shard: id, Node: to})
}

// Drain moves every shard off node, which then leaves.
func (n *Node) Drain(ctx context.Context, node string) (shardgate.MoveReport, error) {
	return n.Act(ctx, shardgate.Action{Kind: shardgate.ActionDrain, Node: node})
}

// Readmit undoes a failover or a drain of a node that is still alive.
func (n *Node) Readmit(ctx context.Context, node string) (shardgate.MoveReport, error) {
	return n.Act(ctx, shardgate.Action{Kind: shardgate.ActionReadmit, Node: node})
}

// Act runs an operator action on the coordinator: it plans it, refuses it
// with KindConflict when it would leave no active node, no quorum or fewer
// than B+1 copies of a shard (unless a.Force), and unless a.DryRun carries
// it out and records it in the event log. The report is the plan either way.
func (n *Node) Act(ctx context.Context, a shardgate.Action) (shardgate.MoveReport, error) {
	switch a.Kind {
	case shardgate.ActionRebalance:
	case shardgate.ActionMove:
		if a.Shard < 0 || a.Shard >= n.cfg.Shard.Partitions {
			return shardgate.MoveReport{}, shardgate.Errorf(shardgate.KindNotFound, "shard %d does not exist (partitions: %d)", a.Shard, n.cfg.Shard.Partitions)
		}
		fallthrough
	case shardgate.ActionDrain, shardgate.ActionFailover, shardgate.ActionReadmit, shardgate.ActionRemove:
		if a.Node == "" {
			return shardgate.MoveReport{}, shardgate.Errorf(shardgate.KindInvalid, "%s needs a node name", a.Kind)
		}
	default:
		return shardgate.MoveReport{}, shardgate.Errorf(shardgate.KindInvalid, "unknown action %q", a.Kind)
	}
	if a.Actor == "" {
		a.Actor = "operator via " + n.name
	}
	coord := n.coordinatorName()
	if coord == "" {
		return shardgate.MoveReport{}, shardgate.Errorf(shardgate.KindUnavailable, "no coordinator: no active node is visible")
	}
	if coord == n.name {
		return n.coord.act(ctx, a)
	}
	var rep shardgate.MoveReport
	err := n.links.Call(ctx, coord, methodAdmin, a, &rep)
	return rep, err
}

// act runs an operator action on the coordinator.
func (c *coordinator) act(ctx context.Context, a shardgate.Action) (shardgate.MoveReport, error) {
	if c.coordinatorName() != c.name {
		return shardgate.MoveReport{}, shardgate.Errorf(shardgate.KindUnavailable, "%s is no longer the coordinator; retry", c.name)
	}
	if !c.quorum() {
		return shardgate.MoveReport{}, shardgate.Errorf(shardgate.KindUnavailable, "the coordinator does not see a majority")
	}
	c.stepMu.Lock()
	defer c.stepMu.Unlock()
	cur := c.table()
	ops := cur.Ops.Clone()
	h, remote, err := applyToOps(a, &ops, c.view())
	if err != nil {
		return shardgate.MoveReport{}, err
	}
	p := c.plan(cur, ops, h)
	rep := c.report(a, cur, p)
	if why, hard := c.refusal(a, cur, p); why != "" {
		if !a.Force || hard {
			return rep, shardgate.Errorf(shardgate.KindConflict, "%s", why)
		}
		rep.Forced, rep.Refusal = true, why
	}
	if a.DryRun {
		return rep, nil
	}
	entry := shardgate.LogEntry{Type: shardgate.LogAction, Actor: a.Actor, Action: a.Kind, Node: a.Node,
		Reason: actionReason(a, rep), Moves: capMoves(rep.Moves, 64)}
	if a.Kind == shardgate.ActionMove {
		entry.Shard = &a.Shard
	}
	if remote != "" {
		// The node changes its own state (draining, or active again); the
		// next planning step sees it through gossip.
		if err := c.tellNode(ctx, a.Node, remote, entry.Reason); err != nil {
			return rep, err
		}
		c.recordNow(entry, a.Kind+" of "+a.Node+" requested by "+a.Actor)
		return rep, nil
	}
	c.mu.Lock()
	c.reasons = append(c.reasons, entry.Reason)
	c.mu.Unlock()
	// A proposal can miss its majority under load (a peer slow to answer):
	// try again for a moment before giving up.
	for attempt := 0; attempt < 5; attempt++ {
		if _, err = c.advance(&ops, []shardgate.LogEntry{entry}); err == nil {
			return rep, nil
		}
		select {
		case <-ctx.Done():
			return rep, fmt.Errorf("%s: %w", a.Kind, err)
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}
	return rep, fmt.Errorf("%s: %w", a.Kind, err)
}

// applyToOps changes ops as action a asks and returns the hypothesis to
// plan with and, for a drain or the readmission of a draining node, the
// link method that makes that node change its own state.
func applyToOps(a shardgate.Action, ops *shard.Ops, v clusterView) (hypothesis, string, error) {
	members := v.members
	m, alive := members[a.Node]
	if !alive && slices.Contains(ops.Dead, a.Node) {
		// Listed as dead in /v1/cluster: say so, not that it does not exist.
		switch a.Kind {
		case shardgate.ActionMove:
			return hypothesis{}, "", shardgate.Errorf(shardgate.KindConflict, "%s is dead: shards can only be moved to an active node", a.Node)
		case shardgate.ActionDrain:
			return hypothesis{}, "", shardgate.Errorf(shardgate.KindConflict, "%s is dead: there is nothing to drain; remove it to forget it", a.Node)
		case shardgate.ActionReadmit:
			return hypothesis{}, "", shardgate.Errorf(shardgate.KindConflict, "%s is dead: only a running node can be readmitted; start it again and it readmits itself", a.Node)
		}
	}
	switch a.Kind {
	case shardgate.ActionRebalance:
		ops.Overrides = nil
	case shardgate.ActionMove:
		if !alive {
			return hypothesis{}, "", shardgate.Errorf(shardgate.KindNotFound, "no live node named %q", a.Node)
		}
		if state := stateOf(m, *ops); state != shardgate.StateActive {
			return hypothesis{}, "", shardgate.Errorf(shardgate.KindConflict, "%s is %s, not active: shards can only be moved to an active node", a.Node, state)
		}
		if ops.Overrides == nil {
			ops.Overrides = map[int]string{}
		}
		ops.Overrides[a.Shard] = a.Node
	case shardgate.ActionFailover:
		switch {
		case !alive && slices.Contains(ops.Dead, a.Node):
			// Listed as dead in /v1/cluster: an operator who asks to fail it
			// over should learn it already was, not that it does not exist.
			return hypothesis{}, "", shardgate.Errorf(shardgate.KindConflict, "%s is dead: its backups already took its shards over; remove it to forget it, or restart it to bring it back", a.Node)
		case !alive:
			return hypothesis{}, "", shardgate.Errorf(shardgate.KindNotFound, "no live node named %q", a.Node)
		case isFailed(*ops, m):
			return hypothesis{}, "", shardgate.Errorf(shardgate.KindConflict, "%s is already failed over; readmit it to undo that", a.Node)
		}
		if ops.Failed == nil {
			ops.Failed = map[string]int64{}
		}
		ops.Failed[a.Node] = m.Meta.StartedAt
	case shardgate.ActionDrain:
		switch {
		case !alive:
			return hypothesis{}, "", shardgate.Errorf(shardgate.KindNotFound, "no live node named %q", a.Node)
		case m.Meta.State == shardgate.StateDraining:
			return hypothesis{}, "", shardgate.Errorf(shardgate.KindConflict, "%s is already draining; readmit it to undo that", a.Node)
		case isFailed(*ops, m):
			return hypothesis{}, "", shardgate.Errorf(shardgate.KindConflict, "%s is failed over: its shards are already on other nodes; readmit it to drain it, or stop its process and remove it", a.Node)
		case m.Meta.State != shardgate.StateActive:
			return hypothesis{}, "", shardgate.Errorf(shardgate.KindConflict, "%s is %s, not active: there is nothing to drain", a.Node, stateOf(m, *ops))
		}
		return hypothesis{inactive: a.Node}, methodDrain, nil
	case shardgate.ActionRemove:
		switch {
		case alive && isFailed(*ops, m):
			return hypothesis{}, "", shardgate.Errorf(shardgate.KindConflict, "%s is failed over but its process still runs: stop it, and remove it once it is dead; or readmit it", a.Node)
		case alive:
			return hypothesis{}, "", shardgate.Errorf(shardgate.KindConflict, "%s is %s, not dead: drain it to take it out of the cluster", a.Node, stateOf(m, *ops))
		case !slices.Contains(ops.Dead, a.Node):
			return hypothesis{}, "", shardgate.Errorf(shardgate.KindNotFound, "no dead node named %q", a.Node)
		}
		ops.Dead = slices.DeleteFunc(slices.Clone(ops.Dead), func(s string) bool { return s == a.Node })
	case shardgate.ActionReadmit:
		switch {
		case !alive:
			return hypothesis{}, "", shardgate.Errorf(shardgate.KindNotFound, "no live node named %q: only a node that is still running can be readmitted (a restarted node readmits itself)", a.Node)
		case isFailed(*ops, m):
			delete(ops.Failed, a.Node)
			return hypothesis{active: a.Node}, "", nil
		case m.Meta.State == shardgate.StateDraining:
			return hypothesis{active: a.Node}, methodReadmit, nil
		case m.Meta.State == shardgate.StateLeft:
			return hypothesis{}, "", shardgate.Errorf(shardgate.KindConflict, "%s finished its drain and is leaving the cluster: it can no longer be readmitted; start it again to bring it back", a.Node)
		}
		return hypothesis{}, "", shardgate.Errorf(shardgate.KindConflict, "%s is %s: it was neither failed over nor drained, so there is nothing to undo", a.Node, stateOf(m, *ops))
	}
	return hypothesis{}, "", nil
}

// tellNode asks node to start draining or to stop draining.
func (n *Node) tellNode(ctx context.Context, node, method, reason string) error {
	req := drainReq{Reason: reason, Logged: true}
	if node == n.name {
		if method == methodReadmit {
			return n.readmitSelf(ctx)
		}
		_, err := n.startDrain(ctx, req)
		return err
	}
	return n.links.Call(ctx, node, method, req, nil)
}

// stateOf words a member's state for a refusal: a node an operator failed
// over is "failed over", whatever it gossips.
func stateOf(m cluster.Member, ops shard.Ops) string {
	if isFailed(ops, m) {
		return "failed over"
	}
	return m.Meta.State
}

func actionReason(a shardgate.Action, rep shardgate.MoveReport) string {
	what := a.Kind
	switch a.Kind {
	case shardgate.ActionMove:
		what = fmt.Sprintf("move of shard %d to %s", a.Shard, a.Node)
	case shardgate.ActionDrain, shardgate.ActionFailover, shardgate.ActionReadmit, shardgate.ActionRemove:
		what = a.Kind + " of " + a.Node
	}
	s := what + " requested by " + a.Actor
	if a.Reason != "" {
		s += " (" + a.Reason + ")"
	}
	if rep.Forced {
		s += ", forced past: " + rep.Refusal
	}
	return s + ": " + rep.Summary
}

func capMoves(m []shardgate.Move, most int) []shardgate.Move {
	if len(m) > most {
		return append([]shardgate.Move(nil), m[:most]...)
	}
	return m
}
