package shard

import (
	"maps"
	"slices"

	"github.com/shardgate/shardgate"
)

// Assignment is where one shard lives. Owner is the home; Backups hold
// committed copies and are the candidates for failover; Pending nodes are
// receiving a copy and hold nothing yet that a failover could rely on.
type Assignment struct {
	Owner   string   `json:"owner"`
	Backups []string `json:"backups"`
	Pending []string `json:"pending,omitempty"` // nodes receiving a copy; not yet holders
}

func (a Assignment) clone() Assignment {
	b := Assignment{Owner: a.Owner, Backups: append([]string{}, a.Backups...)}
	if len(a.Pending) > 0 {
		b.Pending = append([]string(nil), a.Pending...)
	}
	return b
}

func (a Assignment) holds(node string) bool {
	return node != "" && (a.Owner == node || slices.Contains(a.Backups, node))
}

func (a Assignment) equal(b Assignment) bool {
	return a.Owner == b.Owner && slices.Equal(a.Backups, b.Backups) && slices.Equal(a.Pending, b.Pending)
}

// Table is the partition table: one Assignment per shard. Tables are values
// shared between goroutines once published, so every function here returns
// fresh slices and never writes into its arguments.
type Table struct {
	Version     uint64       `json:"version"`
	Partitions  int          `json:"partitions"`
	Backups     int          `json:"backups"`
	Coordinator string       `json:"coordinator"`
	Members     []string     `json:"members"` // sorted names the table was computed for (used for quorum)
	Shards      []Assignment `json:"shards"`
	// Cluster names the cluster: made with its first table and kept by
	// every later one, so that a data dir can tell the cluster it belongs
	// to from another one ("" in tables of older versions).
	Cluster string `json:"cluster,omitempty"`

	// Operator state travels with the table, so that it is persisted and
	// replicated like it and survives a change of coordinator.
	Ops Ops `json:"ops"`
	// EventSeq is the sequence number of the newest event-log entry up to
	// this table; Events are the entries this version added.
	EventSeq uint64               `json:"event_seq"`
	Events   []shardgate.LogEntry `json:"events,omitempty"`
}

// Ops is the operator's state kept with the table. Plan ignores it; the
// coordinator applies it when it computes the desired table.
type Ops struct {
	// Overrides are operator moves: shard → the home the operator chose.
	Overrides map[int]string `json:"overrides,omitempty"`
	// Failed are nodes an operator failed over: name → the StartedAt of the
	// process that was failed over (a restart readmits it).
	Failed map[string]int64 `json:"failed,omitempty"`
	// Dead are members that died without leaving, listed until they return
	// or an operator removes them.
	Dead []string `json:"dead,omitempty"`
}

// Clone is a deep copy.
func (o Ops) Clone() Ops {
	c := Ops{Dead: slices.Clone(o.Dead)}
	if len(o.Overrides) > 0 {
		c.Overrides = maps.Clone(o.Overrides)
	}
	if len(o.Failed) > 0 {
		c.Failed = maps.Clone(o.Failed)
	}
	return c
}

// Equal compares two states, nil and empty alike.
func (o Ops) Equal(p Ops) bool {
	return maps.Equal(o.Overrides, p.Overrides) && maps.Equal(o.Failed, p.Failed) && slices.Equal(o.Dead, p.Dead)
}

// Clone is a deep copy: the result shares no slice with t.
func (t Table) Clone() Table {
	c := t
	c.Members = append([]string{}, t.Members...)
	c.Ops = t.Ops.Clone()
	c.Events = slices.Clone(t.Events)
	c.Shards = make([]Assignment, len(t.Shards))
	for i, a := range t.Shards {
		c.Shards[i] = a.clone()
	}
	return c
}

func (t Table) shard(s int) Assignment {
	if s < 0 || s >= len(t.Shards) {
		return Assignment{}
	}
	return t.Shards[s]
}

// Replicas is the owner followed by the backups: the nodes holding committed
// copies of shard, in failover order. Empty for an unowned or unknown shard.
func (t Table) Replicas(shard int) []string {
	a := t.shard(shard)
	r := make([]string, 0, 1+len(a.Backups))
	if a.Owner != "" {
		r = append(r, a.Owner)
	}
	return append(r, a.Backups...)
}

// Holds reports whether node holds a committed copy of shard.
func (t Table) Holds(shard int, node string) bool { return t.shard(shard).holds(node) }

// Owned counts the shards whose home is node.
func (t Table) Owned(node string) int {
	n := 0
	for _, a := range t.Shards {
		if a.Owner == node && node != "" {
			n++
		}
	}
	return n
}

// BackedUp counts the shards node holds a backup copy of.
func (t Table) BackedUp(node string) int {
	n := 0
	for _, a := range t.Shards {
		if slices.Contains(a.Backups, node) {
			n++
		}
	}
	return n
}

// SameAssignment reports whether t and o place every shard alike and were
// computed for the same members, ignoring Version and Coordinator: a
// coordinator that gets the same assignment back has nothing to publish.
// Nil and empty slices count as equal.
func (t Table) SameAssignment(o Table) bool {
	if t.Partitions != o.Partitions || t.Backups != o.Backups ||
		!slices.Equal(t.Members, o.Members) || len(t.Shards) != len(o.Shards) {
		return false
	}
	for i := range t.Shards {
		if !t.Shards[i].equal(o.Shards[i]) {
			return false
		}
	}
	return true
}

// Migrating reports whether a copy of shard is under way.
func (t Table) Migrating(shard int) bool { return len(t.shard(shard).Pending) > 0 }
