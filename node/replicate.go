package node

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/shard"
	"github.com/shardgate/shardgate/store"
)

// replicateReq carries one batch from a shard's home to another holder.
type replicateReq struct {
	Shard   int        `json:"shard"`
	Version uint64     `json:"version"`
	Pending bool       `json:"pending"` // the target is still receiving its copy: no gap check
	Ops     []store.Op `json:"ops"`
}

// gap says a backup lacks messages of Key after Have.
type gap struct {
	Key  string `json:"key"`
	Have uint64 `json:"have"`
}

type replicateResp struct {
	Gaps []gap `json:"gaps,omitempty"`
}

// targets are the holders a write must reach besides the home: backups and
// pending copies.
func targets(t shard.Table, id int, self string) (backups, pending []string) {
	a := t.Shards[id]
	for _, b := range a.Backups {
		if b != self {
			backups = append(backups, b)
		}
	}
	for _, b := range a.Pending {
		if b != self && !slices.Contains(a.Backups, b) {
			pending = append(pending, b)
		}
	}
	return backups, pending
}

// commit writes ops on this node and on every other holder in parallel and
// returns once all have committed: only then is the batch acknowledged.
// localOK says whether this node's own store committed, which it may have
// done even when the whole commit failed.
func (p *primary) commit(t shard.Table, ops []store.Op) (localOK bool, err error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.d.cfg.ReplicateTimeout)
	defer cancel()
	backups, pending := targets(t, p.shard, p.d.name)
	var wg sync.WaitGroup
	errs := make([]error, 1+len(backups)+len(pending))
	send := func(i int, peer string, isPending bool) {
		defer wg.Done()
		if err := p.replicateTo(ctx, peer, t.Version, ops, isPending); err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("%s did not confirm within %v: %w", peer, p.d.cfg.ReplicateTimeout, err)
			} else {
				err = fmt.Errorf("%s: %w", peer, err)
			}
			errs[i] = err
		}
	}
	wg.Add(len(backups) + len(pending))
	for i, b := range backups {
		go send(1+i, b, false)
	}
	for i, b := range pending {
		go send(1+len(backups)+i, b, true)
	}
	if p.d.cfg.AckBeforeReplicate {
		// Test-only: acknowledge after the local commit alone.
		err := p.d.store.Apply(ctx, ops)
		return err == nil, err
	}
	// The local commit is not cut short by the backups' deadline: its
	// outcome must be known (see inDoubtBook).
	errs[0] = p.d.commitLocal(p.ctx, ops)
	if errs[0] != nil {
		p.lastSeq = map[string]uint64{}
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			continue
		}
		if i == 0 {
			return false, fmt.Errorf("node: commit shard %d locally: %w", p.shard, err)
		}
		return true, shardgate.Errorf(shardgate.KindUnavailable, "shard %d could not reach all its copies: %w", p.shard, err)
	}
	return true, nil
}

// replicateTo sends a batch to one holder, repairing gaps it reports by
// prepending the messages it lacks.
func (p *primary) replicateTo(ctx context.Context, peer string, version uint64, ops []store.Op, isPending bool) error {
	if f := p.d.cfg.ReplicateFault; f != nil {
		if err := f(peer, p.shard); err != nil {
			return err
		}
	}
	for attempt := 0; attempt < 3; attempt++ {
		var resp replicateResp
		req := replicateReq{Shard: p.shard, Version: version, Pending: isPending, Ops: ops}
		if err := p.d.links.Call(ctx, peer, methodReplicate, req, &resp); err != nil {
			return err
		}
		if len(resp.Gaps) == 0 {
			return nil
		}
		var fill []store.Op
		for _, g := range resp.Gaps {
			missing, err := p.missing(g, ops)
			if err != nil {
				return err
			}
			fill = append(fill, missing...)
		}
		ops = append(fill, ops...)
	}
	return shardgate.Errorf(shardgate.KindUnavailable, "%s keeps reporting gaps in shard %d", peer, p.shard)
}

// missing reads from the local store the messages of g.Key after g.Have
// that come before the batch's first message of that key, each with its
// idempotency record.
func (p *primary) missing(g gap, ops []store.Op) ([]store.Op, error) {
	first := uint64(0)
	for _, op := range ops {
		if op.Kind == store.OpMessage && op.Key == g.Key && (first == 0 || op.Msg.Seq < first) {
			first = op.Msg.Seq
		}
	}
	var out []store.Op
	since := g.Have
	for since+1 < first {
		msgs, _, err := p.d.store.Read(p.shard, g.Key, since, 1000)
		if err != nil {
			return nil, err
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			if m.Seq >= first {
				return out, nil
			}
			out = append(out, store.Op{Kind: store.OpMessage, Shard: p.shard, Key: g.Key, Msg: m})
			if m.ID != "" {
				// The record comes along: the holder may keep one that
				// names an earlier attempt of this send at a seq another
				// message took since, and would store a retry again.
				out = append(out, store.Op{Kind: store.OpIdem, Shard: p.shard, Key: g.Key, From: m.From, ID: m.ID, Seq: m.Seq})
			}
			since = m.Seq
		}
	}
	return out, nil
}

// canWrite says whether this node may acknowledge writes of shard id now.
func (n *Node) canWrite(id int, t shard.Table) error {
	if t.Shards == nil || t.Shards[id].Owner != n.name {
		return errNotHome(id)
	}
	if s := n.currentState(); s == shardgate.StateJoining || s == shardgate.StateLeft {
		return shardgate.Errorf(shardgate.KindUnavailable, "node %s is %s", n.name, s)
	}
	if !n.quorum() {
		return n.noQuorumErr(false)
	}
	if peer, v := n.newerPeer(); peer != "" {
		// After a partition heals, a peer may already hold a table that
		// re-homed this shard: catch up before acknowledging anything.
		n.goFunc(func() { n.fetchTableFrom(peer) })
		return shardgate.Errorf(shardgate.KindUnavailable, "node %s is catching up to table v%d; retry", n.name, v)
	}
	return nil
}

func errNotHome(id int) error {
	return shardgate.Errorf(shardgate.KindUnavailable, "shard %d is not at home here (moving); retry", id)
}
