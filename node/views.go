package node

import (
	"context"
	"sort"
	"time"

	"github.com/shardgate/shardgate"
)

// Route answers where key lives.
func (n *Node) Route(_ context.Context, key string) (shardgate.Route, error) {
	if err := shardgate.ValidKey(key); err != nil {
		return shardgate.Route{}, err
	}
	t := n.currentTable()
	id := n.keys.ShardOf(key)
	if t.Shards == nil {
		return shardgate.Route{}, shardgate.Errorf(shardgate.KindUnavailable, "the cluster has no partition table yet")
	}
	a := t.Shards[id]
	return shardgate.Route{Key: key, Shard: id, Owner: a.Owner, Backups: nonNil(a.Backups),
		WSURL: n.wsURLOf(a.Owner), Version: t.Version}, nil
}

// nonNil copies s, as [] rather than null in JSON when it is empty
// (append to nil of nothing is nil again).
func nonNil(s []string) []string {
	if len(s) == 0 {
		return []string{}
	}
	return append([]string(nil), s...)
}

// leftListedFor is how long a node that left stays in the cluster view.
const leftListedFor = time.Hour

// Cluster describes every node this node knows: the live members (a node
// an operator failed over shows as dead, marked failed_over), and the
// members that died, listed as dead until they return or an operator
// removes them, and the members that left after a drain.
func (n *Node) Cluster(context.Context) (shardgate.ClusterView, error) {
	t := n.currentTable()
	coord := n.coordinatorName()
	alive := n.aliveMembers()
	v := shardgate.ClusterView{Version: t.Version, Partitions: n.cfg.Shard.Partitions, Backups: n.backupsIn(t),
		Coordinator: coord, Quorum: n.quorum(), Cluster: t.Cluster}
	seen := map[string]bool{}
	own := n.mem.LocalMeta()
	for name, m := range alive {
		seen[name] = true
		state, failedOver := m.Meta.State, false
		if isFailed(t.Ops, m) {
			state, failedOver = shardgate.StateDead, true
		}
		nv := shardgate.NodeView{Name: name, State: state, FailedOver: failedOver, Coordinator: name == coord,
			GossipAddr: m.GossipAddr, Owned: t.Owned(name), BackedUp: t.BackedUp(name), StartedAt: m.Meta.StartedAt}
		nv.AuthDiffers = own.AuthDiffers(m.Meta)
		nv.WSURL = shardgate.WSURL(m.Meta.WSAddr, n.cfg.TLS)
		if m.Meta.AdminAddr != "" {
			nv.AdminURL = n.scheme("http") + m.Meta.AdminAddr
		}
		if st, ok := n.stats.get(name); ok {
			nv.Connections, nv.MessagesPerSec, nv.MemoryBytes, nv.TableVersion = st.Connections, st.MessagesPerSec, st.MemoryBytes, st.TableVersion
			nv.DiskFull = st.DiskFull
		}
		v.Nodes = append(v.Nodes, nv)
	}
	gone := map[string]bool{}
	for _, name := range t.Ops.Dead {
		gone[name] = true
	}
	for _, name := range t.Members {
		gone[name] = true
	}
	for _, a := range t.Shards {
		gone[a.Owner] = true
		for _, b := range a.Backups {
			gone[b] = true
		}
	}
	for name := range gone {
		if name != "" && !seen[name] {
			seen[name] = true
			v.Nodes = append(v.Nodes, shardgate.NodeView{Name: name, State: shardgate.StateDead, Owned: t.Owned(name), BackedUp: t.BackedUp(name)})
		}
	}
	// A node that finished its drain and said goodbye holds nothing and is
	// in no table; it stays listed as left for a while, so the end of a
	// drain is seen rather than a node that vanished, and a cluster that
	// cycles through many names does not list them all for ever.
	for _, name := range n.departed.leftWithin(leftListedFor) {
		if !seen[name] {
			v.Nodes = append(v.Nodes, shardgate.NodeView{Name: name, State: shardgate.StateLeft})
		}
	}
	sort.Slice(v.Nodes, func(i, j int) bool { return v.Nodes[i].Name < v.Nodes[j].Name })
	return v, nil
}

// Partitions describes every shard: holders, state and size (sizes come
// from each home's last stats).
func (n *Node) Partitions(context.Context) (shardgate.PartitionsView, error) {
	t := n.currentTable()
	alive := n.aliveMembers()
	want := n.wantCopies(t)
	v := shardgate.PartitionsView{Version: t.Version, Partitions: make([]shardgate.PartitionView, 0, len(t.Shards))}
	for id, a := range t.Shards {
		pv := shardgate.PartitionView{ID: id, Owner: a.Owner, Backups: nonNil(a.Backups), Pending: a.Pending,
			State: shardgate.ShardStable, Replicas: 1 + len(a.Backups)}
		if len(a.Pending) > 0 {
			pv.State = shardgate.ShardMigrating
		}
		pv.UnderReplicated = n.liveCopies(a.Owner, a.Backups, alive) < want
		if _, ok := alive[a.Owner]; a.Owner != "" && !ok {
			pv.HomeDown = true
		}
		if st, ok := n.stats.get(a.Owner); ok {
			if s, ok := st.Sizes[id]; ok {
				pv.Messages, pv.Bytes = s[0], s[1]
			}
		}
		v.Partitions = append(v.Partitions, pv)
	}
	return v, nil
}

// ShardHistory lists the ownership changes of shard id that the cluster's
// event log still holds, oldest first: the same on every node.
func (n *Node) ShardHistory(_ context.Context, id int) ([]shardgate.OwnershipChange, error) {
	if id < 0 || id >= n.cfg.Shard.Partitions {
		return nil, shardgate.Errorf(shardgate.KindNotFound, "shard %d does not exist (partitions: %d)", id, n.cfg.Shard.Partitions)
	}
	entries, err := n.evlog.read(0, 0)
	if err != nil {
		return nil, err
	}
	out := []shardgate.OwnershipChange{}
	for _, e := range entries {
		for _, c := range e.Changes {
			if c.Shard == id {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// Ready is nil when the node has joined, knows a table and serves its
// shards.
func (n *Node) Ready() error {
	if s := n.currentState(); s != shardgate.StateActive {
		return shardgate.Errorf(shardgate.KindUnavailable, "node %s is %s", n.name, s)
	}
	t := n.currentTable()
	if t.Version == 0 {
		return shardgate.Errorf(shardgate.KindUnavailable, "no partition table yet")
	}
	for id, a := range t.Shards {
		if a.Owner != n.name {
			continue
		}
		switch running, caughtUp := n.home.loaded(id); {
		case !running:
			return shardgate.Errorf(shardgate.KindUnavailable, "shard %d is not loaded yet", id)
		case !caughtUp:
			return shardgate.Errorf(shardgate.KindUnavailable, "shard %d is comparing its store with its backups", id)
		}
	}
	return nil
}
