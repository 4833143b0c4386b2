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
// the oldest active member that sees a majority acts.
type coordinator struct {
	n    *Node
	kick chan struct{}

	mu        sync.Mutex
	completed []copiedReq
	overrides map[int]string   // operator moves: shard → owner
	failed    map[string]int64 // failed over by an operator: name → its StartedAt then
	reasons   []string
}

func newCoordinator(n *Node) *coordinator {
	return &coordinator{n: n, kick: make(chan struct{}, 1), overrides: map[int]string{}, failed: map[string]int64{}}
}

// poke asks for a planning step soon, with the reason recorded for the
// ownership history.
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

func (c *coordinator) copied(r copiedReq) {
	c.mu.Lock()
	if !slices.Contains(c.completed, r) {
		c.completed = append(c.completed, r)
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
// nodes an operator failed over.
func (n *Node) coordinatorName() string {
	var best *cluster.Member
	for _, m := range n.mem.Members() {
		if m.Status != "alive" && m.Status != "" || m.Meta.State != shardgate.StateActive || n.coord.isFailed(m) {
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

func (c *coordinator) isFailed(m cluster.Member) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.failed[m.Name]
	return ok && at == m.Meta.StartedAt
}

// view returns the live members (holders may stay) and the active ones (the
// desired homes).
func (c *coordinator) view() (alive map[string]bool, active []string) {
	alive = map[string]bool{}
	for name, m := range c.n.aliveMembers() {
		if c.isFailed(m) || m.Meta.State == shardgate.StateLeft {
			continue
		}
		alive[name] = true
		if m.Meta.State == shardgate.StateActive {
			active = append(active, name)
		}
	}
	sort.Strings(active)
	return alive, active
}

func (c *coordinator) desired(active []string) shard.Table {
	d := shard.Assign(active, c.n.cfg.Shard)
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, to := range c.overrides {
		nd, err := shard.WithOwner(d, id, to, c.n.cfg.Shard)
		if err != nil {
			delete(c.overrides, id)
			continue
		}
		d = nd
	}
	return d
}

// next computes the table that should follow cur, without side effects.
func (c *coordinator) next(cur shard.Table) (shard.Table, shard.Table, bool) {
	alive, active := c.view()
	if len(active) == 0 {
		return cur, cur, false
	}
	desired := c.desired(active)
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
	changed := cur.Version == 0 || !nt.SameAssignment(cur) || !slices.Equal(nt.Members, cur.Members)
	return nt, desired, changed
}

func (c *coordinator) step() {
	if peer, v := c.n.newerPeer(); peer != "" {
		// Never plan on top of a table the cluster has moved past.
		c.n.log.Info("coordinator catching up before planning", "peer", peer, "version", v)
		c.n.fetchTableFrom(peer)
		return
	}
	cur := c.n.currentTable()
	nt, _, changed := c.next(cur)
	c.mu.Lock()
	reason := strings.Join(c.reasons, "; ")
	c.reasons = nil
	c.mu.Unlock()
	if !changed {
		return
	}
	if reason == "" {
		reason = "membership"
	}
	nt.Version = cur.Version + 1
	nt.Coordinator = c.n.name
	c.n.publishTable(nt, reason)
}

// publishTable proposes t to every live peer and installs it only when a
// majority of the old and new tables' members accepted the proposal (a
// peer accepts a table newer than its own). Peers install it on the commit
// that follows. A coordinator cut off from the majority therefore never
// installs or spreads a table, so two tables with one version cannot both
// be in force.
func (n *Node) publishTable(t shard.Table, reason string) {
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
		return
	}
	if ok, err := n.installTable(t, reason); err != nil || !ok {
		if err != nil {
			n.log.Warn("publish table", "version", t.Version, "err", err)
		}
		return
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
