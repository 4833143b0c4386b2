package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/cluster"
	"github.com/shardgate/shardgate/shard"
)

// coordinator turns membership into tables. Every node runs the loop; only
// the oldest active member that sees a majority acts. Its state of its own
// is what waits for the next table (completed copies, reasons, log
// entries) and the measured copy rate: operator state (overrides, failed
// and dead nodes) lives in the table (shard.Ops), so a new coordinator
// carries on with it. The planning itself is nextTable, a pure function;
// the coordinator gathers its inputs and publishes its output.
type coordinator struct {
	coordDeps
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

// coordDeps is what the coordinator is given; it reaches nothing else.
type coordDeps struct {
	name string
	cfg  Config
	log  *slog.Logger

	table func() shard.Table // the table in force
	view  func() clusterView // live members and departures, now
	// coordinatorName names the node that should coordinate now; only
	// that node plans.
	coordinatorName func() string
	quorum          func() bool
	// newerPeer names a live member holding a newer table; fetchTable
	// installs that member's table.
	newerPeer  func() (string, uint64)
	fetchTable func(peer string)
	// publish proposes t to the cluster and installs it on a majority's
	// acceptance; it reports whether t was installed.
	publish func(t shard.Table, reason string) bool
	// shardBytes is the size of a shard as its home last reported it.
	shardBytes func(id int, t shard.Table) int64
	// tellNode makes node start draining (methodDrain) or stop
	// (methodReadmit).
	tellNode func(ctx context.Context, node, method, reason string) error
}

func newCoordinator(d coordDeps) (*coordinator, error) {
	if d.name == "" {
		return nil, errors.New("coordinator: node name is empty")
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	if d.cfg.PlanInterval <= 0 {
		return nil, errors.New("coordinator: plan interval must be positive")
	}
	if d.table == nil || d.view == nil || d.coordinatorName == nil || d.quorum == nil || d.newerPeer == nil ||
		d.fetchTable == nil || d.publish == nil || d.shardBytes == nil || d.tellNode == nil {
		return nil, errors.New("coordinator: a dependency is missing")
	}
	if d.cfg.Now == nil {
		d.cfg.Now = time.Now
	}
	return &coordinator{coordDeps: d, kick: make(chan struct{}, 1)}, nil
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

// recordNow queues a log entry and wakes the planner with reason.
func (c *coordinator) recordNow(e shardgate.LogEntry, reason string) {
	c.mu.Lock()
	c.pending = append(c.pending, e)
	c.mu.Unlock()
	c.poke(reason)
}

func (c *coordinator) copiedReport(r copiedReq) {
	cur := c.table()
	if r.Shard < 0 || r.Shard >= len(cur.Shards) || !slices.Contains(cur.Shards[r.Shard].Pending, r.Node) || !fromHome(r, cur.Shards[r.Shard]) {
		return // a late repeat, or a copy by a former home: the table has moved on
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

// linkRoutes are the node-link methods the coordinator serves: copy
// reports, log entries from other nodes and operator actions.
func (c *coordinator) linkRoutes() []linkRoute {
	return []linkRoute{
		{methodCopied, typed(func(_ context.Context, _ string, r copiedReq) (any, error) {
			c.copiedReport(r)
			return struct{}{}, nil
		})},
		{methodRecord, typed(func(_ context.Context, _ string, r shardgate.LogEntry) (any, error) {
			if c.coordinatorName() != c.name {
				return nil, shardgate.Errorf(shardgate.KindUnavailable, "%s is not the coordinator", c.name)
			}
			c.record(r)
			return struct{}{}, nil
		})},
		{methodAdmin, typed(func(ctx context.Context, _ string, r shardgate.Action) (any, error) { return c.act(ctx, r) })},
	}
}

// loop runs until ctx ends.
func (c *coordinator) loop(ctx context.Context) {
	t := time.NewTicker(c.cfg.PlanInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.kick:
			// Gather the completions and events that arrive together into
			// one table version instead of one version each.
			select {
			case <-time.After(min(20*time.Millisecond, c.cfg.PlanInterval)):
			case <-ctx.Done():
				return
			}
		}
		if c.coordinatorName() != c.name || !c.quorum() {
			continue
		}
		c.step()
	}
}

// step publishes the next table when it differs from the one in force or
// log entries wait for one.
func (c *coordinator) step() {
	c.stepMu.Lock()
	defer c.stepMu.Unlock()
	if _, err := c.advance(nil, nil); err != nil {
		c.log.Debug("coordinator step", "err", err)
	}
}

// shardConfig is the shard configuration the coordinator plans with: its
// own, with the B of the cluster (clusterBackups) among the members of v.
func (c *coordinator) shardConfig(v clusterView) shard.Config {
	sc := c.cfg.Shard
	sc.Backups = clusterBackups(sc.Backups, v.members)
	return sc
}

// next runs the planning step on cur under ops with the completions
// reported so far, and keeps the completions still waiting.
func (c *coordinator) next(cur shard.Table, ops shard.Ops) planOutput {
	c.mu.Lock()
	completed := slices.Clone(c.completed)
	c.mu.Unlock()
	v := c.view()
	out := nextTable(planInput{cur: cur, ops: ops, view: v, completed: completed,
		shard: c.shardConfig(v), maxPending: c.cfg.MaxPendingPerNode})
	if cur.Version != 0 && len(out.completed) != len(completed) {
		c.mu.Lock()
		// Keep what arrived meanwhile as well as what still waits.
		c.completed = slices.DeleteFunc(c.completed, func(r copiedReq) bool {
			return slices.Contains(completed, r) && !slices.Contains(out.completed, r)
		})
		c.mu.Unlock()
	}
	return out
}

// advance computes the next table (under ops when not nil, else the
// table's own) and publishes it with extra and the queued log entries.
// Callers hold stepMu. It reports whether a table was published.
func (c *coordinator) advance(ops *shard.Ops, extra []shardgate.LogEntry) (bool, error) {
	if peer, v := c.newerPeer(); peer != "" {
		// Never plan on top of a table the cluster has moved past.
		c.log.Info("coordinator catching up before planning", "peer", peer, "version", v)
		c.fetchTable(peer)
		return false, shardgate.Errorf(shardgate.KindUnavailable, "the coordinator was catching up with table v%d; retry", v)
	}
	cur := c.table()
	o := cur.Ops
	if ops != nil {
		o = *ops
	}
	out := c.next(cur, o)
	nt := out.next
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
	if out.changed {
		entries = append(entries, c.describe(cur, nt, out.desired, reason)...)
	}
	if !out.changed && len(entries) == 0 {
		return false, nil
	}
	nt.Version = cur.Version + 1
	nt.Coordinator = c.name
	nt.Cluster = cur.Cluster
	if nt.Cluster == "" {
		// The cluster's first table, or the first since an older version
		// ran it: every later table keeps what is made here.
		id, err := newClusterID()
		if err != nil {
			return false, err
		}
		nt.Cluster = id
	}
	c.stamp(&nt, entries)
	if !c.publish(nt, reason) {
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

// newClusterID makes a cluster's identity: random, so that two clusters
// started apart never share one.
func newClusterID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("node: make the cluster's identity: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// stamp numbers the entries after the table in force and attaches them.
func (c *coordinator) stamp(nt *shard.Table, entries []shardgate.LogEntry) {
	at := c.cfg.Now().UnixMilli()
	for i := range entries {
		nt.EventSeq++
		e := &entries[i]
		e.Seq, e.Version = nt.EventSeq, nt.Version
		if e.At == 0 {
			e.At = at
		}
		if e.Actor == "" {
			e.Actor = c.name
		}
		for j := range e.Changes {
			e.Changes[j].Version, e.Changes[j].At = nt.Version, at
		}
	}
	nt.Events = entries
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

// clusterView is the live members and how the others went away, now.
func (n *Node) clusterView() clusterView {
	return clusterView{self: n.name, members: n.aliveMembers(), departed: n.departed.snapshot()}
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
	// Asked on every write: the links are judged only for members whose
	// table is newer, which is rare.
	for _, m := range n.mem.Members() {
		if m.Name != n.name && m.Meta.TableVersion > bestV && isLive(m) && !n.linkDead(m.Name) {
			best, bestV = m.Name, m.Meta.TableVersion
		}
	}
	return best, bestV
}

type tableMsg struct {
	Table  shard.Table `json:"table"`
	Reason string      `json:"reason"`
}
