package node

import (
	"context"
	"slices"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/shard"
)

// checkFailed makes this node follow the table's verdict on it: a node an
// operator failed over while it was alive stops serving (state failed, its
// clients told where their keys live now) until it is readmitted.
func (n *Node) checkFailed(t shard.Table) {
	at, listed := t.Ops.Failed[n.name]
	failed := listed && at == n.mem.LocalMeta().StartedAt
	// The state changes here, at once and in table order; gossip follows
	// on its own goroutine (it may block), which publishes whatever the
	// state is by then, so two quick changes cannot arrive reordered.
	n.mu.Lock()
	state := n.state
	switch {
	case failed && state != shardgate.StateFailed:
		n.state = shardgate.StateFailed
	case !failed && state == shardgate.StateFailed:
		n.state = shardgate.StateActive
	default:
		n.mu.Unlock()
		return
	}
	now := n.state
	n.mu.Unlock()
	if now == shardgate.StateFailed {
		n.log.Warn("this node was failed over by an operator: it serves nothing until readmitted")
	} else {
		n.log.Info("this node was readmitted")
	}
	n.goFunc(func() {
		n.gossipMu.Lock()
		defer n.gossipMu.Unlock()
		ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
		defer cancel()
		if now == shardgate.StateFailed {
			n.moveClients(t, "failover")
		}
		n.setState(ctx, n.currentState())
	})
}

// moveClients tells every client connected here where its key lives now.
func (n *Node) moveClients(t shard.Table, reason string) {
	d := n.conns.deliverer()
	for _, key := range d.LocalKeys() {
		id := n.keys.ShardOf(key)
		if id >= len(t.Shards) {
			continue
		}
		to := t.Shards[id].Owner
		if to == n.name {
			continue
		}
		if url := n.wsURLOf(to); url != "" {
			d.Moved(key, url, reason)
		}
	}
}

// serving refuses work on a node that was failed over.
func (n *Node) serving() error {
	if n.currentState() == shardgate.StateFailed {
		return shardgate.Errorf(shardgate.KindUnavailable, "node %s was failed over by an operator and serves nothing until it is readmitted; connect to another node", n.name)
	}
	return nil
}

// movedReason says why the home of a key left this node's view: the
// reason a client's moved hint carries.
func (n *Node) movedReason(old, t shard.Table, from string) string {
	switch state := n.currentState(); {
	case state == shardgate.StateFailed:
		return "failover" // this node's own clients leave it for good
	case state == shardgate.StateDraining && from == n.name:
		return "drain"
	case !slices.Contains(t.Members, from) && from != "":
		if _, ok := t.Ops.Failed[from]; ok {
			return "failover"
		}
		if n.departure(from) == shardgate.StateDead {
			return "failover"
		}
	}
	return "rebalance"
}

// readmitSelf ends a drain of this node that is still under way: it turns
// active again and keeps its place in the cluster.
func (n *Node) readmitSelf(ctx context.Context) error {
	n.drainMu.Lock()
	end := n.drainEnd
	n.drainEnd = nil
	n.drainMu.Unlock()
	if n.currentState() != shardgate.StateDraining || end == nil {
		return shardgate.Errorf(shardgate.KindConflict, "%s is %s, not draining: nothing to readmit", n.name, n.currentState())
	}
	end()
	n.setState(ctx, shardgate.StateActive)
	n.log.Info("drain cancelled: readmitted")
	return nil
}
