package node

import (
	"context"
	"time"

	"github.com/shardgate/shardgate"
)

// routeCall runs a request at the home of shard id: locally when this node
// is the home, else over the node link. An "unavailable" answer (a shard in
// cut-over, a home that just changed) is retried until cfg.ForwardRetry has
// passed, waking early when the table changes.
func (n *Node) routeCall(ctx context.Context, id int, method string, req, resp any, local func() error) error {
	deadline := time.Now().Add(n.cfg.ForwardRetry)
	backoff := 10 * time.Millisecond
	for {
		changed := n.tableChanged()
		t := n.currentTable()
		var err error
		switch {
		case t.Shards == nil || t.Shards[id].Owner == "":
			err = shardgate.Errorf(shardgate.KindUnavailable, "the cluster has no partition table yet")
		case t.Shards[id].Owner == n.name:
			err = local()
		default:
			n.m.MessagesForwarded.Inc()
			err = n.links.Call(ctx, t.Shards[id].Owner, method, req, resp)
		}
		if err == nil || shardgate.KindOf(err) != shardgate.KindUnavailable || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-n.ctx.Done():
			return err
		case <-changed:
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 250*time.Millisecond)
	}
}

// primaryFor returns the writer of shard id if this node is its home.
func (n *Node) primaryFor(id int) (*primary, error) {
	n.mu.RLock()
	p := n.primaries[id]
	n.mu.RUnlock()
	if p == nil {
		return nil, errNotHome(id)
	}
	return p, nil
}

// localRead checks this node may answer reads of shard id.
func (n *Node) localRead(id int) error {
	t := n.currentTable()
	if t.Shards == nil || t.Shards[id].Owner != n.name {
		return errNotHome(id)
	}
	if s := n.currentState(); s == shardgate.StateJoining {
		return shardgate.Errorf(shardgate.KindUnavailable, "node %s is still joining", n.name)
	}
	return nil
}
