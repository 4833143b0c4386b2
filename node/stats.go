package node

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/shard"
)

// nodeStats is what each node tells its peers about its load every
// StatsInterval, so any node can answer /v1/cluster and /v1/partitions
// without a round of calls.
type nodeStats struct {
	Connections    int              `json:"connections"`
	MessagesPerSec float64          `json:"messages_per_sec"`
	MemoryBytes    uint64           `json:"memory_bytes"`
	TableVersion   uint64           `json:"table_version"`
	Sizes          map[int][2]int64 `json:"sizes,omitempty"` // owned shard → messages, bytes
	At             int64            `json:"at"`
	// Unreachable lists the peers this node has not completed a call with
	// over the links for LinkFailAfter (see linkHealth).
	Unreachable []string `json:"unreachable,omitempty"`
	// Cut is the part of Unreachable this node did reach once: a link
	// that worked and stopped, not a node still joining (linktiebreak.go).
	Cut      []string `json:"cut,omitempty"`
	DiskFull bool     `json:"disk_full,omitempty"`
}

type statsBook struct {
	mu sync.RWMutex
	by map[string]nodeStats
}

func newStatsBook() *statsBook { return &statsBook{by: map[string]nodeStats{}} }

func (s *statsBook) put(name string, st nodeStats) {
	s.mu.Lock()
	s.by[name] = st
	s.mu.Unlock()
}

func (s *statsBook) get(name string) (nodeStats, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.by[name]
	return st, ok
}

// statsLoop measures this node, shares it with peers, refreshes gauges and
// emits a stats event for the dashboard.
func (n *Node) statsLoop() {
	t := time.NewTicker(n.cfg.StatsInterval)
	defer t.Stop()
	lastStored, lastAt := 0.0, time.Now()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		stored := counterValue(n.m.MessagesStored)
		now := time.Now()
		rate := (stored - lastStored) / now.Sub(lastAt).Seconds()
		lastStored, lastAt = stored, now
		st := n.measure(rate)
		n.stats.put(n.name, st)
		n.refreshGauges() // before the notifications below sit in the link queues
		for name, m := range n.aliveMembers() {
			if name == n.name {
				continue
			}
			ctx, cancel := context.WithTimeout(n.ctx, time.Second)
			_ = n.links.Notify(ctx, name, methodStats, st)
			cancel()
			if m.Meta.TableVersion > st.TableVersion {
				n.goFunc(func() { n.fetchTableFrom(name) })
			}
		}
		if view, err := n.Cluster(n.ctx); err == nil {
			n.events.publish(shardgate.Event{Type: "stats", At: n.nowMS(), Data: view})
		}
	}
}

func (n *Node) measure(rate float64) nodeStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t := n.currentTable()
	sizes := map[int][2]int64{}
	for id, a := range t.Shards {
		if a.Owner == n.name {
			m, b := n.st.ShardStats(id)
			sizes[id] = [2]int64{m, b}
		}
	}
	return nodeStats{Connections: n.conns.deliverer().Connections(), MessagesPerSec: rate, MemoryBytes: ms.Sys,
		TableVersion: t.Version, Sizes: sizes, At: n.nowMS(),
		Unreachable: n.health.unreachable(n.cfg.Now(), n.cfg.LinkFailAfter), DiskFull: n.disk.full(),
		Cut: n.health.cut(n.cfg.Now(), n.cfg.LinkFailAfter)}
}

func (n *Node) refreshGauges() {
	t := n.currentTable()
	alive := n.aliveMembers()
	moving, under := 0, 0
	want := n.wantCopies(t)
	for _, a := range t.Shards {
		if len(a.Pending) > 0 {
			moving++
		}
		if n.liveCopies(a.Owner, a.Backups, alive) < want {
			under++
		}
	}
	n.m.ShardsMoving.Set(float64(moving))
	n.m.ShardsUnderRepl.Set(float64(under))
	n.m.MemberlistHealth.Set(float64(n.mem.HealthScore()))
	n.m.Members.Set(float64(len(alive)))
	n.m.StoreSizeBytes.Set(float64(n.st.Size()))
	for peer, d := range n.links.QueueDepths() {
		n.m.LinkQueueDepth.WithLabelValues(peer).Set(float64(d))
	}
	n.quorum()
}

// wantCopies is how many live copies each shard of t should have: 1+B,
// or every member of t when it has fewer. Members that died still count
// until a table without them is made: their shards lack the copies they
// held, and one more failure may lose them.
func (n *Node) wantCopies(t shard.Table) int {
	return min(1+n.backupsIn(t), max(len(t.Members), 1))
}

// backups is the cluster's B in the table in force (backupsIn).
func (n *Node) backups() int { return n.backupsIn(n.currentTable()) }

// backupsIn is the cluster's B: t's, which its coordinator planned with
// (see clusterBackups), or this node's --backups before there is a table.
func (n *Node) backupsIn(t shard.Table) int {
	if t.Version > 0 {
		return t.Backups
	}
	return n.cfg.Shard.Backups
}

func (n *Node) liveCopies(owner string, backups []string, alive map[string]clusterMember) int {
	c := 0
	if _, ok := alive[owner]; ok {
		c++
	}
	for _, b := range backups {
		if _, ok := alive[b]; ok {
			c++
		}
	}
	return c
}
