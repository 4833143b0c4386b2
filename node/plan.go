package node

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/shard"
)

// defaultCopyRate is assumed for estimates until a copy has been measured
// (bytes per second).
const defaultCopyRate = 32 << 20

// actionPlan is what an operator action leads to: the table the
// coordinator will move toward under the new operator state, and the
// moves from the table in force to it.
type actionPlan struct {
	alive  map[string]bool
	active []string
	end    shard.Table
	moves  []shardgate.Move
}

// plan works out where ops and h lead from cur. The coordinator carries a
// plan out step by step (copies first, then cut-over); the end is what the
// steps converge to while membership stays as it is.
func (c *coordinator) plan(cur shard.Table, ops shard.Ops, h hypothesis) actionPlan {
	v := c.view()
	alive, active := liveAndActive(v, ops, h)
	p := actionPlan{alive: alive, active: active, moves: []shardgate.Move{}}
	if len(active) == 0 {
		return p
	}
	ops = cleanOps(cur, ops, active, v)
	p.end = desiredTable(active, ops.Overrides, c.shardConfig(v))
	for id, d := range p.end.Shards {
		var a shard.Assignment
		if id < len(cur.Shards) {
			a = cur.Shards[id]
		}
		holders := liveHolders(a, alive)
		src := a.Owner
		if !alive[src] && len(holders) > 0 {
			src = holders[0]
		}
		size := c.shardBytes(id, cur)
		for i, x := range slices.Concat([]string{d.Owner}, d.Backups) {
			role := shard.RoleBackup
			if i == 0 {
				role = shard.RoleOwner
			}
			switch {
			case !slices.Contains(holders, x):
				p.moves = append(p.moves, shardgate.Move{Shard: id, From: src, To: x, Role: role, Bytes: size})
			case i == 0 && x != a.Owner:
				// A holder becomes the home: nothing to copy. From is the
				// home when it is alive, else the copy taking over.
				from := a.Owner
				if !alive[from] {
					from = x
				}
				p.moves = append(p.moves, shardgate.Move{Shard: id, From: from, To: x, Role: role})
			}
		}
	}
	return p
}

func liveHolders(a shard.Assignment, alive map[string]bool) []string {
	var out []string
	for _, x := range slices.Concat([]string{a.Owner}, a.Backups) {
		if x != "" && alive[x] {
			out = append(out, x)
		}
	}
	return out
}

// report describes p for the operator.
func (c *coordinator) report(a shardgate.Action, cur shard.Table, p actionPlan) shardgate.MoveReport {
	rep := shardgate.MoveReport{Action: a.Kind, Node: a.Node, DryRun: a.DryRun, Version: cur.Version, Moves: p.moves}
	homes, copies := 0, 0
	for _, m := range p.moves {
		rep.Bytes += m.Bytes
		if m.Role == shard.RoleOwner {
			homes++
		}
		if !cur.Holds(m.Shard, m.To) {
			copies++
		}
	}
	rep.EstimateMS = c.estimate(p.moves, cur).Milliseconds()
	if len(p.moves) == 0 {
		rep.Summary = "nothing to move: the table already matches"
	} else {
		rep.Summary = planSummary(homes, copies, rep.Bytes, time.Duration(rep.EstimateMS)*time.Millisecond)
	}
	return rep
}

// planSummary is the one line an operator reads about a plan.
func planSummary(homes, copies int, bytes int64, estimate time.Duration) string {
	return fmt.Sprintf("%d shard%s change%s home, %d cop%s to make, %s to copy, about %s",
		homes, plural(homes, "", "s"), plural(homes, "s", ""), copies, plural(copies, "y", "ies"), fmtBytes(bytes), roundDur(estimate))
}

// estimate is a rough time to carry moves out: each target receives its
// copies MaxPendingPerNode at a time, at the copy rate measured so far,
// and each round costs a planning step or two.
func (c *coordinator) estimate(moves []shardgate.Move, cur shard.Table) time.Duration {
	if len(moves) == 0 {
		return 0
	}
	c.mu.Lock()
	rate := c.copyRate
	c.mu.Unlock()
	if rate <= 0 {
		rate = defaultCopyRate
	}
	type load struct {
		bytes  int64
		copies int
	}
	by := map[string]*load{}
	for _, m := range moves {
		l := by[m.To]
		if l == nil {
			l = &load{}
			by[m.To] = l
		}
		if !cur.Holds(m.Shard, m.To) {
			l.bytes += m.Bytes
			l.copies++
		}
	}
	round := 2*c.cfg.PlanInterval + 50*time.Millisecond
	worst := round // promotions alone take one step
	for _, l := range by {
		per := max(1, c.cfg.MaxPendingPerNode)
		rounds := (l.copies + per - 1) / per
		d := time.Duration(float64(l.bytes)/rate*float64(time.Second)) + time.Duration(rounds+1)*round
		worst = max(worst, d)
	}
	return worst
}

func roundDur(d time.Duration) string {
	if d < time.Second {
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// refusal says why an action that takes a node out of service (drain,
// failover) must not run: it would leave no active node, lose the
// quorum, or leave fewer than B+1 copies of a shard. "" means it may.
// hard reports a refusal that force cannot override: with no active node
// there is nowhere to put the shards.
func (c *coordinator) refusal(a shardgate.Action, cur shard.Table, p actionPlan) (why string, hard bool) {
	if a.Kind != shardgate.ActionDrain && a.Kind != shardgate.ActionFailover {
		return "", false
	}
	if len(p.active) == 0 {
		return fmt.Sprintf("%s %s would leave no active node", a.Kind, a.Node), true
	}
	var reasons []string
	serving := 0
	for _, m := range cur.Members {
		if p.alive[m] && m != a.Node {
			serving++
		}
	}
	if need := len(cur.Members)/2 + 1; len(cur.Members) > 0 && serving < need {
		reasons = append(reasons, fmt.Sprintf("only %d of the table's %d members would remain, and a quorum needs %d", serving, len(cur.Members), need))
	}
	if b := c.shardConfig(c.view()).Backups; len(p.active) < b+1 {
		reasons = append(reasons, fmt.Sprintf("only %d active node%s would remain (%s): fewer than the %d copies of every shard that --backups %d asks for",
			len(p.active), plural(len(p.active), "", "s"), strings.Join(p.active, ", "), b+1, b))
	}
	var lost []int
	for id, s := range cur.Shards {
		if a.Kind == shardgate.ActionFailover && len(liveHolders(s, p.alive)) == 0 && s.Owner != "" {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		sort.Ints(lost)
		reasons = append(reasons, fmt.Sprintf("%d shard%s would keep no copy (%s)", len(lost), plural(len(lost), "", "s"), fmtIDs(lost, 8)))
	}
	if len(reasons) == 0 {
		return "", false
	}
	return fmt.Sprintf("%s %s refused: %s; pass force to do it anyway", a.Kind, a.Node, strings.Join(reasons, "; ")), false
}

func fmtIDs(ids []int, most int) string {
	var parts []string
	for i, id := range ids {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more", len(ids)-most))
			break
		}
		parts = append(parts, fmt.Sprint(id))
	}
	return strings.Join(parts, ", ")
}
