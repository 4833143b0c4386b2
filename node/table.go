package node

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/cluster"
	"github.com/shardgate/shardgate/shard"
)

// currentTable returns the table in force. Callers must not modify it.
func (n *Node) currentTable() shard.Table { return n.tables.current() }

// tableChanged returns a channel closed at the next table change.
func (n *Node) tableChanged() <-chan struct{} { return n.tables.changed() }

// installTable makes t the table in force if it is newer than ours (the
// table part persists it first, outside the lock its readers take), then
// adds its event-log entries (fetching missed ones from peer) and acts on
// it: roles, metrics, gossip of the version, an event.
func (n *Node) installTable(t shard.Table, reason, peer string) (bool, error) {
	ok, err := n.tables.install(t)
	if err != nil || !ok {
		return false, err
	}
	if err := n.tables.unsavedErr(); err != nil {
		n.log.Warn("table in force but not saved: the disk is full; it is saved at the next change once there is room", "version", t.Version, "err", err)
	}
	n.mu.RLock()
	started := n.started
	n.mu.RUnlock()

	n.logInstalled(t, peer)
	n.warnFewCopies(t)
	n.checkFailed(t)
	n.m.TableVersion.Set(float64(t.Version))
	n.m.ShardsOwned.Set(float64(t.Owned(n.name)))
	n.m.ShardsBackedUp.Set(float64(t.BackedUp(n.name)))
	if started {
		n.applyRoles()
	}
	go func() {
		ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
		defer cancel()
		_ = n.mem.UpdateMeta(ctx, func(m *cluster.Meta) {
			m.TableVersion = t.Version
			if t.Cluster != "" {
				m.Cluster = t.Cluster
			}
		})
	}()
	n.events.publish(shardgate.Event{Type: "table", At: n.nowMS(), Data: map[string]any{"version": t.Version, "coordinator": t.Coordinator, "reason": reason}})
	n.log.Info("table installed", "version", t.Version, "coordinator", t.Coordinator, "reason", reason, "owned", t.Owned(n.name), "backed_up", t.BackedUp(n.name))
	return true, nil
}

// warnFewCopies says, once per member count, that the table has fewer
// members than the copies --backups asks for: each shard is then kept on
// every member, and writes are acknowledged with that many copies. The
// partition view does not count it as under-replicated, since no node
// could hold another copy.
func (n *Node) warnFewCopies(t shard.Table) {
	if t.Version > 0 && t.Backups != n.cfg.Shard.Backups && n.backupsDiffer.Swap(int64(t.Backups)+1) != int64(t.Backups)+1 {
		n.log.Warn("this node's --backups differs from the cluster's: the cluster keeps as many copies as its most demanding live member asks for; give every node the same --backups",
			"own", n.cfg.Shard.Backups, "cluster", t.Backups)
	}
	members, want := int64(len(t.Members)), int64(1+t.Backups)
	if members == 0 || members >= want {
		n.fewCopies.Store(0)
		return
	}
	if n.fewCopies.Swap(members) != members {
		n.log.Warn("fewer members than copies wanted: each shard is kept on every member, and writes are acknowledged with that many copies until more nodes join",
			"members", members, "copies_wanted", want, "backups", t.Backups)
	}
}

// applyRoles starts writers for shards this node now owns, stops writers of
// shards it lost, starts copies to pending holders, and re-points client
// connections whose home moved. Calls are serialized and always act on the
// table in force, so two tables installed concurrently cannot leave roles
// of the older one behind.
func (n *Node) applyRoles() {
	n.rolesMu.Lock()
	defer n.rolesMu.Unlock()
	old := n.applied
	t := n.currentTable()
	n.applied = t
	n.home.apply(t)
	n.replica.tableChanged(t)
	n.conns.tableInstalled(old, t, func(key, from, to string) {
		if url := n.wsURLOf(to); url != "" {
			n.conns.deliverer().Moved(key, url, n.movedReason(old, t, from))
		}
	})
}

// syncTable asks every peer for its table and installs the newest, so a
// (re)starting node never acts on a table the cluster has moved past.
func (n *Node) syncTable(ctx context.Context) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	best := n.currentTable()
	for _, mb := range n.mem.Members() {
		if mb.Name == n.name {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			var t shard.Table
			if err := n.links.Call(c, mb.Name, methodGetTable, struct{}{}, &t); err != nil {
				n.log.Debug("fetch table", "peer", mb.Name, "err", err)
				return
			}
			mu.Lock()
			if newer(t, best) {
				best = t
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if best.Version == 0 {
		return
	}
	if _, err := n.installTable(best, "synced at start", ""); err != nil {
		n.log.Warn("install synced table", "err", err)
	}
}

// fetchTableFrom installs peer's table when its gossip says it is newer.
func (n *Node) fetchTableFrom(peer string) {
	if !n.fetching.CompareAndSwap(false, true) {
		return // one fetch at a time is enough: it installs the newest
	}
	defer n.fetching.Store(false)
	ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
	defer cancel()
	var t shard.Table
	if err := n.links.Call(ctx, peer, methodGetTable, struct{}{}, &t); err != nil {
		return
	}
	if _, err := n.installTable(t, "caught up from "+peer, peer); err != nil {
		n.log.Warn("install fetched table", "peer", peer, "err", err)
	}
}

// aliveNames is the set of members memberlist sees as alive or suspect.
func (n *Node) aliveMembers() map[string]cluster.Member {
	out := map[string]cluster.Member{}
	for _, m := range n.mem.Members() {
		if isLive(m) && !n.linkDead(m.Name) {
			out[m.Name] = m
		}
	}
	return out
}

// isLive says whether memberlist sees m as alive or suspect.
func isLive(m cluster.Member) bool {
	return m.Status == "alive" || m.Status == "suspect" || m.Status == ""
}

// quorum is true when this node sees a majority of the members of the table
// in force (docs/PROTOCOL.md, Guarantees). A node without a table has nothing to protect.
func (n *Node) quorum() bool {
	t := n.currentTable()
	if len(t.Members) == 0 {
		return true
	}
	// The members of aliveMembers that are in the table, itself always;
	// counted without building the map: this is asked on every write.
	seen := 0
	if containsName(t.Members, n.name) {
		seen++
	}
	now := n.cfg.Now()
	for _, m := range n.mem.Members() {
		if m.Name != n.name && containsName(t.Members, m.Name) && isLive(m) && !n.linkDeadIn(m.Name, t.Members, now) {
			seen++
		}
	}
	ok := seen >= len(t.Members)/2+1 && n.reachesMajority()
	if ok {
		n.m.Quorum.Set(1)
	} else {
		n.m.Quorum.Set(0)
	}
	return ok
}

// noQuorumErr is the refusal of a write by a node without quorum, with
// its reason: it does not see a majority, or it sees one but has lost its
// link to an elder that others still reach, and as the younger end of
// that cut it is the one that stands down. through is a write forwarded
// by this node rather than one of its own shards.
func (n *Node) noQuorumErr(through bool) error {
	what, hint := "writes", ""
	if through {
		what, hint = "writes through it", ", try another node"
	}
	if elder := n.health.cutFromElderNamed(); elder != "" {
		return shardgate.Errorf(shardgate.KindUnavailable, "node %s has lost its link to node %s, which still reaches a majority; as the younger end of the cut it refuses %s until the link heals%s", n.name, elder, what, hint)
	}
	return shardgate.Errorf(shardgate.KindUnavailable, "node %s does not see a majority of the cluster; %s are refused until it does%s", n.name, what, hint)
}

// scheme is "ws://" or "http://", with an s when the listeners serve TLS.
func (n *Node) scheme(plain string) string {
	if n.cfg.TLS {
		return plain + "s://"
	}
	return plain + "://"
}

func (n *Node) wsURLOf(name string) string {
	if name == n.name {
		return shardgate.WSURL(n.cfg.WSAddr, n.cfg.TLS)
	}
	if addr, ok := n.wsAddrs.Load(name); ok {
		return shardgate.WSURL(addr.(string), n.cfg.TLS)
	}
	return ""
}

func containsName(list []string, name string) bool { return slices.Contains(list, name) }
