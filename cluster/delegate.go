package cluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/shardgate/shardgate"
)

// hooks receives memberlist's callbacks. Concurrency contract, from
// memberlist: the event methods (NotifyJoin/Leave/Update) are never called
// concurrently and run with memberlist's node lock held, so they must not
// call back into memberlist and must not block; the other methods may run
// concurrently with anything.
type hooks struct{ c *Cluster }

var (
	_ memberlist.Delegate         = hooks{}
	_ memberlist.EventDelegate    = hooks{}
	_ memberlist.AliveDelegate    = hooks{}
	_ memberlist.MergeDelegate    = hooks{}
	_ memberlist.ConflictDelegate = hooks{}
)

// NodeMeta hands memberlist our encoded metadata, which was checked against
// the limit when it was set.
func (h hooks) NodeMeta(limit int) []byte {
	raw := h.c.meta.Load().raw
	if len(raw) > limit { // cannot happen: encode checks MaxMetaBytes
		return nil
	}
	return raw
}

// We gossip no user messages and no extra push/pull state.
func (hooks) NotifyMsg([]byte)                {}
func (hooks) GetBroadcasts(int, int) [][]byte { return nil }
func (hooks) LocalState(bool) []byte          { return nil }
func (hooks) MergeRemoteState([]byte, bool)   {}

// NotifyAlive keeps nodes with another partition count (or no shardgate
// metadata, or of a cluster that must stay apart: dataCluster) out,
// whichever way their alive message arrives: a merge delegate alone would
// not stop one that sneaks in through ordinary gossip.
func (h hooks) NotifyAlive(peer *memberlist.Node) error {
	return h.c.compatible(peer.Name, peer.Meta)
}

// NotifyMerge refuses a join when any live node on the other side is
// incompatible. The reason is recorded so that Join can report it: memberlist
// flattens this error into a string.
func (h hooks) NotifyMerge(peers []*memberlist.Node) error {
	for _, p := range peers {
		if p.State != memberlist.StateAlive {
			continue
		}
		if err := h.c.compatible(p.Name, p.Meta); err != nil {
			if m, derr := decodeMeta(p.Meta); derr == nil {
				mm := mismatch{name: p.Name, addr: p.Address(), partitions: m.Partitions}
				if errors.Is(err, ErrClusterMismatch) {
					mm.data, mm.other = h.c.dataCluster(m)
				}
				h.c.recordMismatch(mm)
			}
			return err
		}
	}
	return nil
}

// NotifyConflict reports a node claiming a known name from a different
// address. memberlist keeps the known one; the newcomer is let in once the
// known address has been dead for DeadNodeReclaimTime (a restart elsewhere),
// and never while it is alive (two nodes configured with one name).
func (h hooks) NotifyConflict(existing, other *memberlist.Node) {
	if existing.Name == h.c.cfg.Name {
		theirs, err := decodeMeta(other.Meta)
		if own := h.c.cfg.Meta.ID; err == nil && own != "" && theirs.ID != "" && theirs.ID != own {
			// Not this node's previous process (that would have the same
			// data), but a second node given this name.
			h.c.log.Error("another node, with a data dir of its own, uses this node's name; every node needs its own name",
				"name", existing.Name, "other_addr", other.Address())
			h.c.recordNameTaken(other.Address())
			return
		}
		h.c.log.Error("another node uses this node's name (or this node's previous process, not yet declared dead); every node needs its own name",
			"name", existing.Name, "other_addr", other.Address())
		return
	}
	h.c.log.Warn("a node claims a known name from another address; accepted once the old address is dead, refused while it lives",
		"name", existing.Name, "known_addr", existing.Address(), "other_addr", other.Address())
}

// NotifyJoin: a node became alive (new, or back from dead or left).
func (h hooks) NotifyJoin(n *memberlist.Node) {
	m := h.c.toMember(n, StatusAlive)
	c := h.c
	c.mu.Lock()
	c.members[m.Name] = m
	c.sorted = nil
	if m.Name != c.cfg.Name {
		c.peers.seen(m.Name, m.GossipAddr, time.Now())
	}
	c.mu.Unlock()
	c.checkAuth(m)
	c.emit(Event{Type: EventJoin, Member: m})
}

// AuthDiffers reports whether m checks client tokens otherwise than this
// node (Meta.AuthDiffers).
func (c *Cluster) AuthDiffers(m Member) bool {
	return c.meta.Load().meta.AuthDiffers(m.Meta)
}

// checkAuth warns, once per member and fingerprint, of a member that
// checks client tokens otherwise than this node.
func (c *Cluster) checkAuth(m Member) {
	if m.Name == c.cfg.Name {
		return
	}
	differs := c.AuthDiffers(m)
	c.mu.Lock()
	warned := c.authWarned[m.Name] == m.Meta.Auth
	if differs {
		if c.authWarned == nil {
			c.authWarned = map[string]string{}
		}
		c.authWarned[m.Name] = m.Meta.Auth
	} else {
		delete(c.authWarned, m.Name)
	}
	c.mu.Unlock()
	if differs && !warned {
		c.log.Warn("a member checks client tokens with another --auth-secret, --insecure or --jwt-* setting than this node: a client token accepted by one of the two is refused by the other; give every node the same",
			"member", m.Name, "addr", m.GossipAddr)
	}
}

// NotifyUpdate: a live node's metadata changed. A new StartedAt under the
// same name means the process restarted before anyone declared it dead;
// consumers hear that as a failure of the old process and a join of the new
// one, because whatever the old one held in memory is gone.
func (h hooks) NotifyUpdate(n *memberlist.Node) {
	m := h.c.toMember(n, StatusAlive)
	c := h.c
	c.mu.Lock()
	old, had := c.members[m.Name]
	c.members[m.Name] = m
	c.sorted = nil
	if m.Name != c.cfg.Name {
		c.peers.seen(m.Name, m.GossipAddr, time.Now())
	}
	c.mu.Unlock()
	c.checkAuth(m)
	if had && old.Meta.StartedAt != 0 && old.Meta.StartedAt != m.Meta.StartedAt {
		c.log.Info("member restarted", "member", m.Name, "addr", m.GossipAddr)
		old.Status = StatusDead
		c.emit(Event{Type: EventFailed, Member: old})
		c.emit(Event{Type: EventJoin, Member: m})
		return
	}
	c.emit(Event{Type: EventUpdate, Member: m})
}

// NotifyLeave: a node is dead or left. memberlist tells both apart
// internally but not to us, so a node that announced StateLeft in its last
// metadata left; any other was declared dead.
func (h hooks) NotifyLeave(n *memberlist.Node) {
	c := h.c
	m := c.toMember(n, StatusDead)
	typ := EventFailed
	if m.Meta.State == shardgate.StateLeft {
		m.Status, typ = StatusLeft, EventLeave
	}
	c.mu.Lock()
	delete(c.members, m.Name)
	c.sorted = nil
	if m.Name != c.cfg.Name {
		c.peers.departed(m.Name, m.Status == StatusLeft, time.Now())
	}
	c.mu.Unlock()
	c.emit(Event{Type: typ, Member: m})
}

// toMember copies what we need out of memberlist's node, which we may only
// read while memberlist holds its lock.
func (c *Cluster) toMember(n *memberlist.Node, status string) Member {
	meta, err := decodeMeta(n.Meta)
	if err != nil {
		c.log.Warn("member has unreadable metadata", "member", n.Name, "err", err)
	}
	return Member{Name: n.Name, GossipAddr: n.Address(), Meta: meta, Status: status}
}

// compatible decides whether a node may be our peer.
func (c *Cluster) compatible(name string, raw []byte) error {
	m, err := decodeMeta(raw)
	if err != nil {
		return fmt.Errorf("node %s is not a shardgate node: %w", name, err)
	}
	if ours := c.cfg.Meta.Partitions; m.Partitions != ours {
		return fmt.Errorf("node %s has partition count %d, this node has %d: %w", name, m.Partitions, ours, ErrPartitionMismatch)
	}
	if data, other := c.dataCluster(m); data != "" {
		return fmt.Errorf("node %s and this node stay apart: one holds messages of cluster %s, the other is a member of cluster %s: %w", name, data, other, ErrClusterMismatch)
	}
	return nil
}

// dataCluster says whether this node and the node described by m are of
// two clusters that must stay apart: one of them holds messages of one
// cluster (Meta.Data) and the other is a member of another. It returns the
// two identities (the data's first), or "" when they may meet. A node not
// yet in any cluster, or of a version that has no identities, meets anyone.
func (c *Cluster) dataCluster(m Meta) (data, other string) {
	own := c.meta.Load().meta
	switch {
	case own.Data != "" && m.Cluster != "" && m.Cluster != own.Data:
		return own.Data, m.Cluster
	case m.Data != "" && own.Cluster != "" && own.Cluster != m.Data:
		return m.Data, own.Cluster
	}
	return "", ""
}

func (c *Cluster) emit(e Event) {
	if c.queue.push(e) {
		c.log.Warn("membership event dropped: nobody reads Events", "type", e.Type, "member", e.Member.Name)
	}
}
