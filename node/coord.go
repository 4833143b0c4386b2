package node

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/cluster"
	"github.com/shardgate/shardgate/shard"
)

// coordinator turns membership into tables. Every node runs the loop; only
// the oldest active member that sees a majority acts. Its only state of its
// own is what waits for the next table (completed copies, reasons, log
// entries): operator state lives in the table (shard.Ops), so a new
// coordinator carries on with it.
type coordinator struct {
	n    *Node
	kick chan struct{}

	// stepMu makes a planning step and an operator action one at a time,
	// so that each plans on the table the other published.
	stepMu sync.Mutex

	mu        sync.Mutex
	completed []copiedReq
	reasons   []string
	pending   []shardgate.LogEntry // entries waiting for the next table
	copied    []shardgate.Move     // copies reported complete since the last table
	copyRate  float64              // bytes/s of completed copies (moving average); 0: none measured
}

func newCoordinator(n *Node) *coordinator {
	return &coordinator{n: n, kick: make(chan struct{}, 1)}
}

// poke asks for a planning step soon, with the reason recorded for the
// event log.
func (c *coordinator) poke(reason string) {
	if reason != "" {
		c.mu.Lock()
		if len(c.reasons) < 16 && !slices.Contains(c.reasons, reason) {
			c.reasons = append(c.reasons, reason)
		}
		c.mu.Unlock()
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// record queues a log entry for the next table.
func (c *coordinator) record(e shardgate.LogEntry) {
	c.mu.Lock()
	if len(c.pending) < 1024 {
		c.pending = append(c.pending, e)
	}
	c.mu.Unlock()
	c.poke("")
}

func (c *coordinator) copiedReport(r copiedReq) {
	cur := c.n.currentTable()
	if r.Shard < 0 || r.Shard >= len(cur.Shards) || !slices.Contains(cur.Shards[r.Shard].Pending, r.Node) {
		return // a late repeat: the table has moved on
	}
	c.mu.Lock()
	if !slices.ContainsFunc(c.completed, func(o copiedReq) bool {
		return o.Shard == r.Shard && o.Node == r.Node && o.Version == r.Version
	}) {
		c.completed = append(c.completed, r)
		c.copied = append(c.copied, shardgate.Move{Shard: r.Shard, From: r.From, To: r.Node, Bytes: r.Bytes})
		// Small copies measure the round trips, not the rate.
		if r.MS > 0 && r.Bytes >= 256<<10 {
			rate := float64(r.Bytes) / (float64(r.MS) / 1000)
			if c.copyRate == 0 {
				c.copyRate = rate
			} else {
				c.copyRate = 0.8*c.copyRate + 0.2*rate
			}
		}
	}
	c.mu.Unlock()
	c.poke("copy of shard complete")
}

func (c *coordinator) loop() {
	t := time.NewTicker(c.n.cfg.PlanInterval)
	defer t.Stop()
	for {
		select {
		case <-c.n.ctx.Done():
			return
		case <-t.C:
		case <-c.kick:
			// Gather the completions and events that arrive together into
			// one table version instead of one version each.
			select {
			case <-time.After(min(20*time.Millisecond, c.n.cfg.PlanInterval)):
			case <-c.n.ctx.Done():
				return
			}
		}
		if c.n.coordinatorName() != c.n.name || !c.n.quorum() {
			continue
		}
		c.step()
	}
}

// coordinatorName is the oldest active member (ties by name), ignoring
// nodes an operator failed over. This node counts by its own state, which
// it knows before gossip does.
func (n *Node) coordinatorName() string {
	ops := n.currentTable().Ops
	var best *cluster.Member
	for _, m := range n.mem.Members() {
		state := m.Meta.State
		if m.Name == n.name {
			state = n.currentState()
		}
		if m.Status != "alive" && m.Status != "" || state != shardgate.StateActive || isFailed(ops, m) || n.linkDead(m.Name) {
			continue
		}
		if best == nil || m.Meta.StartedAt < best.Meta.StartedAt ||
			(m.Meta.StartedAt == best.Meta.StartedAt && m.Name < best.Name) {
			best = &m
		}
	}
	if best == nil {
		return ""
	}
	return best.Name
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

// view returns the live members (holders may stay) and the active ones (the
// desired homes) under ops.
func (c *coordinator) view(ops shard.Ops, h hypothesis) (alive map[string]bool, active []string) {
	alive = map[string]bool{}
	for name, m := range c.n.aliveMembers() {
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

// desired is the table the active members should end up with, operator
// moves applied.
func (c *coordinator) desired(active []string, overrides map[int]string) shard.Table {
	d := shard.Assign(active, c.n.cfg.Shard)
	ids := make([]int, 0, len(overrides))
	for id := range overrides {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		if nd, err := shard.WithOwner(d, id, overrides[id], c.n.cfg.Shard); err == nil {
			d = nd
		}
	}
	return d
}

// cleanOps drops operator state that no longer applies: overrides onto
// nodes that are not active, failovers of processes that are gone. It
// lists as dead the members that vanished without leaving.
func (c *coordinator) cleanOps(cur shard.Table, ops shard.Ops, active []string) shard.Ops {
	out := shard.Ops{}
	members := c.n.aliveMembers()
	for id, to := range ops.Overrides {
		if slices.Contains(active, to) {
			if out.Overrides == nil {
				out.Overrides = map[int]string{}
			}
			out.Overrides[id] = to
		}
	}
	for name, at := range ops.Failed {
		if m, ok := members[name]; ok && m.Meta.StartedAt == at {
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
		if _, ok := members[name]; ok || name == c.n.name || c.n.departure(name) == shardgate.StateLeft {
			continue
		}
		out.Dead = append(out.Dead, name)
	}
	sort.Strings(out.Dead)
	return out
}

// next computes the table that should follow cur under ops, without side
// effects, and whether it differs from cur.
func (c *coordinator) next(cur shard.Table, ops shard.Ops) (shard.Table, shard.Table, bool) {
	alive, active := c.view(ops, hypothesis{})
	if len(active) == 0 {
		return cur, cur, false
	}
	ops = c.cleanOps(cur, ops, active)
	desired := c.desired(active, ops.Overrides)
	var nt shard.Table
	if cur.Version == 0 {
		nt = desired.Clone()
	} else {
		base := cur.Clone()
		c.mu.Lock()
		kept := c.completed[:0]
		for _, r := range c.completed {
			// A completion stays until the table no longer lists the node
			// as pending: it may take more than one step to publish.
			if r.Shard >= 0 && r.Shard < len(base.Shards) && slices.Contains(base.Shards[r.Shard].Pending, r.Node) {
				base = shard.Complete(base, r.Shard, r.Node)
				kept = append(kept, r)
			}
		}
		c.completed = kept
		c.mu.Unlock()
		nt = shard.Plan(base, desired, func(s string) bool { return alive[s] }, shard.PlanOptions{MaxPendingPerNode: c.n.cfg.MaxPendingPerNode})
	}
	var members []string
	for name := range alive {
		members = append(members, name)
	}
	sort.Strings(members)
	nt.Members = members
	nt.Partitions = c.n.cfg.Shard.Partitions
	nt.Backups = c.n.cfg.Shard.Backups
	nt.Ops = ops
	nt.EventSeq, nt.Events = cur.EventSeq, nil
	changed := cur.Version == 0 || !nt.SameAssignment(cur) || !slices.Equal(nt.Members, cur.Members) || !nt.Ops.Equal(cur.Ops)
	return nt, desired, changed
}

// step publishes the next table when it differs from the one in force or
// log entries wait for one.
func (c *coordinator) step() {
	c.stepMu.Lock()
	defer c.stepMu.Unlock()
	if _, err := c.advance(nil, nil); err != nil {
		c.n.log.Debug("coordinator step", "err", err)
	}
}

// advance computes the next table (under ops when not nil, else the
// table's own) and publishes it with extra and the queued log entries.
// Callers hold stepMu. It reports whether a table was published.
func (c *coordinator) advance(ops *shard.Ops, extra []shardgate.LogEntry) (bool, error) {
	if peer, v := c.n.newerPeer(); peer != "" {
		// Never plan on top of a table the cluster has moved past.
		c.n.log.Info("coordinator catching up before planning", "peer", peer, "version", v)
		c.n.fetchTableFrom(peer)
		return false, shardgate.Errorf(shardgate.KindUnavailable, "the coordinator was catching up with table v%d; retry", v)
	}
	cur := c.n.currentTable()
	o := cur.Ops
	if ops != nil {
		o = *ops
	}
	nt, desired, changed := c.next(cur, o)
	c.mu.Lock()
	reasons, pending, copied := c.reasons, c.pending, c.copied
	c.reasons, c.pending, c.copied = nil, nil, nil
	c.mu.Unlock()
	reason := strings.Join(reasons, "; ")
	if reason == "" {
		reason = "placing shards on the active nodes"
	}
	entries := slices.Concat(pending, extra)
	if len(copied) > 0 {
		entries = append(entries, shardgate.LogEntry{Type: shardgate.LogMigration, Action: "copied",
			Reason: copiesSummary(copied), Moves: copied})
	}
	if changed {
		entries = append(entries, c.describe(cur, nt, desired, reason)...)
	}
	if !changed && len(entries) == 0 {
		return false, nil
	}
	nt.Version = cur.Version + 1
	nt.Coordinator = c.n.name
	c.stamp(&nt, entries)
	if !c.n.publishTable(nt, reason) {
		// Nothing was installed: keep what waits for the next attempt.
		c.mu.Lock()
		c.reasons = append(reasons, c.reasons...)
		c.pending = append(pending, c.pending...)
		c.copied = append(copied, c.copied...)
		c.mu.Unlock()
		return false, shardgate.Errorf(shardgate.KindUnavailable, "table v%d was not published: no majority accepted it", nt.Version)
	}
	return true, nil
}

// stamp numbers the entries after the table in force and attaches them.
func (c *coordinator) stamp(nt *shard.Table, entries []shardgate.LogEntry) {
	at := c.n.nowMS()
	for i := range entries {
		nt.EventSeq++
		e := &entries[i]
		e.Seq, e.Version = nt.EventSeq, nt.Version
		if e.At == 0 {
			e.At = at
		}
		if e.Actor == "" {
			e.Actor = c.n.name
		}
		for j := range e.Changes {
			e.Changes[j].Version, e.Changes[j].At = nt.Version, at
		}
	}
	nt.Events = entries
}

// publishTable proposes t to every live peer and installs it only when a
// majority of the old and new tables' members accepted the proposal (a
// peer accepts a table newer than its own). Peers install it on the commit
// that follows. A coordinator cut off from the majority therefore never
// installs or spreads a table, so two tables with one version cannot both
// be in force. It reports whether t was installed.
func (n *Node) publishTable(t shard.Table, reason string) bool {
	cur := n.currentTable()
	voters := map[string]bool{}
	for _, m := range append(append([]string{}, cur.Members...), t.Members...) {
		voters[m] = true
	}
	if len(voters) == 0 {
		voters[n.name] = true
	}
	msg := tableMsg{Table: t, Reason: reason}
	var mu sync.Mutex
	var wg sync.WaitGroup
	accepted := 0
	if voters[n.name] {
		accepted = 1
	}
	for name := range n.aliveMembers() {
		if name == n.name {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(n.ctx, time.Second)
			defer cancel()
			if err := n.links.Call(ctx, name, methodPropose, msg, nil); err != nil {
				n.log.Debug("table proposal refused", "peer", name, "version", t.Version, "err", err)
				return
			}
			if voters[name] {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if accepted < len(voters)/2+1 {
		n.log.Warn("table not published: no majority accepted it", "version", t.Version, "accepted", accepted, "voters", len(voters))
		return false
	}
	if ok, err := n.installTable(t, reason, n.name); err != nil || !ok {
		if err != nil {
			n.log.Warn("publish table", "version", t.Version, "err", err)
		}
		return false
	}
	for name := range n.aliveMembers() {
		if name == n.name {
			continue
		}
		n.goFunc(func() {
			ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
			defer cancel()
			if err := n.links.Call(ctx, name, methodTable, msg, nil); err != nil {
				n.log.Debug("send table", "peer", name, "version", t.Version, "err", err)
			}
		})
	}
	return true
}

// newerPeer names a live member whose gossip says it holds a newer table
// than ours, if any.
func (n *Node) newerPeer() (string, uint64) {
	mine := n.currentTable().Version
	best, bestV := "", mine
	for name, m := range n.aliveMembers() {
		if name != n.name && m.Meta.TableVersion > bestV {
			best, bestV = name, m.Meta.TableVersion
		}
	}
	return best, bestV
}

type tableMsg struct {
	Table  shard.Table `json:"table"`
	Reason string      `json:"reason"`
}
