package node

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/shardgate/shardgate"
)

// routeCall runs a request at the home of shard id: locally when this node
// is the home, else over the node link. An "unavailable" answer (a shard in
// cut-over, a home that just changed) is retried, waking early when the
// table changes. The whole call, retries included, gets a budget: writes
// cfg.ForwardRetry, everything else cfg.ReadRetry; local is given the
// budgeted context, so a local write waiting on its writer or its backups
// ends with the budget too. A home that cannot be
// reached (a partition memberlist has not noticed yet) costs the caller
// that long, and then a 1003 that says why, never silence; a node that
// does not see a majority refuses writes at once.
func (n *Node) routeCall(ctx context.Context, id int, method string, req, resp any, local func(ctx context.Context) error) error {
	budget := n.cfg.ReadRetry
	if method == methodSend || method == methodAck {
		budget = n.cfg.ForwardRetry
	}
	outer := ctx
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	backoff := 10 * time.Millisecond
	write := method == methodSend || method == methodAck
	var reason error
	for {
		// A node that does not see a majority says so at once instead of
		// spending the budget: its own writes would be refused, and a home
		// on the other side is most likely out of its reach too. The
		// client can tell "cut off" from "slow" and try another node.
		if write && !n.quorum() {
			return n.noQuorumErr(true)
		}
		changed := n.tableChanged()
		t := n.currentTable()
		var err error
		owner := ""
		switch {
		case t.Shards == nil || t.Shards[id].Owner == "":
			err = shardgate.Errorf(shardgate.KindUnavailable, "the cluster has no partition table yet")
		case t.Shards[id].Owner == n.name:
			owner = n.name
			err = local(ctx)
		default:
			owner = t.Shards[id].Owner
			n.m.MessagesForwarded.Inc()
			if sr, ok := req.(sendReq); ok {
				if d, ok := ctx.Deadline(); ok {
					sr.WaitMS = max(1, time.Until(d).Milliseconds())
				}
				req = sr
			}
			err = n.links.Call(ctx, owner, method, req, resp)
		}
		if err != nil && (ctx.Err() == nil || !errors.Is(err, ctx.Err())) {
			// The reason to give when the budget runs out: the last
			// answer that said why, not the deadline that ended the wait.
			reason = err
		}
		if err != nil && ctx.Err() != nil && outer.Err() == nil {
			// Our own budget ran out, not the caller's.
			return budgetSpent(id, owner, budget, cmp.Or(reason, err))
		}
		if err == nil || shardgate.KindOf(err) != shardgate.KindUnavailable || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			if outer.Err() == nil {
				return budgetSpent(id, owner, budget, cmp.Or(reason, err))
			}
			return err
		case <-n.ctx.Done():
			return err
		case <-changed:
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 250*time.Millisecond)
	}
}

// budgetSpent is the answer of a request that found no usable home in time.
func budgetSpent(id int, owner string, budget time.Duration, last error) error {
	where := "its home"
	if owner != "" {
		where = "its home " + owner
	}
	return shardgate.Errorf(shardgate.KindUnavailable, "shard %d: %s could not serve the request within %v (%s); retry", id, where, budget, shardgate.UserMessage(last))
}

// primaryFor returns the writer of shard id if this node is its home.
func (n *Node) primaryFor(id int) (*primary, error) { return n.home.writer(id) }

// localRead checks this node may answer reads of shard id.
func (n *Node) localRead(id int) error {
	t := n.currentTable()
	if t.Shards == nil || t.Shards[id].Owner != n.name {
		return errNotHome(id)
	}
	if s := n.currentState(); s == shardgate.StateJoining {
		return shardgate.Errorf(shardgate.KindUnavailable, "node %s is still joining", n.name)
	}
	// Until the shard's writer has compared this store with the backups,
	// it may lack messages they hold (a restart on an empty or older data
	// dir): a read would show a shorter inbox than was acknowledged.
	if running, caughtUp := n.home.loaded(id); running && !caughtUp {
		return shardgate.Errorf(shardgate.KindUnavailable, "shard %d is comparing its home's store with its backups; retry", id)
	}
	return nil
}
