package node

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/shard"
)

// describe turns the change from cur to nt into log entries: members that
// joined or went away, the shards whose holders changed, and the copies the
// new table starts.
func (c *coordinator) describe(cur, nt, desired shard.Table, reason string) []shardgate.LogEntry {
	v := c.view()
	var out []shardgate.LogEntry
	for _, name := range nt.Members {
		if !slices.Contains(cur.Members, name) {
			out = append(out, shardgate.LogEntry{Type: shardgate.LogMember, Action: "joined", Node: name, Reason: name + " is a member of the table"})
		}
	}
	for _, name := range cur.Members {
		if slices.Contains(nt.Members, name) {
			continue
		}
		what, why := departureOf(name, nt.Ops, v)
		out = append(out, shardgate.LogEntry{Type: shardgate.LogMember, Action: what, Node: name, Reason: why})
	}
	if changes := shardChanges(cur, nt, reason); len(changes) > 0 {
		out = append(out, shardgate.LogEntry{Type: shardgate.LogTable, Action: "changed", Reason: reason,
			Changes: changes})
	}
	if moves := shard.Moves(cur, nt, desired); len(moves) > 0 {
		for i := range moves {
			moves[i].Bytes = c.shardBytes(moves[i].Shard, cur)
		}
		out = append(out, shardgate.LogEntry{Type: shardgate.LogMigration, Action: "started", Reason: reason,
			Moves: moves})
	}
	return out
}

// shardChanges lists the shards whose owner, backups or pending copies
// differ between old and t.
func shardChanges(old, t shard.Table, reason string) []shardgate.OwnershipChange {
	var out []shardgate.OwnershipChange
	for id, a := range t.Shards {
		var prev shard.Assignment
		if id < len(old.Shards) {
			prev = old.Shards[id]
		}
		if prev.Owner == a.Owner && slices.Equal(prev.Backups, a.Backups) && slices.Equal(prev.Pending, a.Pending) {
			continue
		}
		c := shardgate.OwnershipChange{Shard: id, From: prev.Owner, To: a.Owner,
			Backups: append([]string{}, a.Backups...), Reason: reason}
		if len(a.Pending) > 0 {
			c.Reason = reason + " (copying to " + joinNames(a.Pending) + ")"
		}
		out = append(out, c)
	}
	return out
}

// departures remembers how members went away (left or dead), for the log
// and for the list of dead nodes.
type departures struct {
	now func() time.Time // the engine's clock (Config.Now)
	mu  sync.Mutex
	by  map[string]departure
}

type departure struct {
	how string
	at  time.Time
}

func (d *departures) set(name, how string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.by == nil {
		d.by = map[string]departure{}
	}
	if how == "" {
		delete(d.by, name)
	} else {
		d.by[name] = departure{how: how, at: d.now()}
	}
}

func (d *departures) get(name string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.by[name].how
}

func (n *Node) departure(name string) string { return n.departed.get(name) }

// snapshot copies the record, for a planning step.
func (d *departures) snapshot() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]string, len(d.by))
	for k, v := range d.by {
		out[k] = v.how
	}
	return out
}

// leftWithin lists the members that left (not died) less than window ago.
func (d *departures) leftWithin(window time.Duration) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	var out []string
	for k, v := range d.by {
		if v.how == shardgate.StateLeft && now.Sub(v.at) < window {
			out = append(out, k)
		}
	}
	return out
}

// shardBytes is the size of shard id as its home last reported it.
func (n *Node) shardBytes(id int, t shard.Table) int64 {
	if id < 0 || id >= len(t.Shards) {
		return 0
	}
	owner := t.Shards[id].Owner
	if owner == n.name {
		_, b := n.st.ShardStats(id)
		return b
	}
	if st, ok := n.stats.get(owner); ok {
		return st.Sizes[id][1]
	}
	return 0
}

func copiesSummary(moves []shardgate.Move) string {
	var b int64
	for _, m := range moves {
		b += m.Bytes
	}
	return fmt.Sprintf("%d cop%s complete, %s copied", len(moves), plural(len(moves), "y", "ies"), fmtBytes(b))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func fmtBytes(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := int64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}
