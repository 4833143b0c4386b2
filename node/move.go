package node

import (
	"context"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/shard"
	"github.com/shardgate/shardgate/store"
)

// copyJob streams one shard from its home to one pending holder.
type copyJob struct {
	target string
	cancel context.CancelFunc
	done   chan struct{}
}

// tableChanged starts a copy for every pending holder of this shard that
// has none running, and cancels copies to nodes no longer pending.
func (p *primary) tableChanged(t shard.Table) {
	_, pending := targets(t, p.shard, p.d.name)
	p.copyMu.Lock()
	defer p.copyMu.Unlock()
	for target, j := range p.copies {
		if !containsName(pending, target) {
			j.cancel()
			delete(p.copies, target)
		}
	}
	for _, target := range pending {
		if _, ok := p.copies[target]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(p.ctx)
		j := &copyJob{target: target, cancel: cancel, done: make(chan struct{})}
		p.copies[target] = j
		go func() {
			defer close(j.done)
			p.copyLoop(ctx, target, t.Version)
		}()
	}
}

// copyLoop copies the shard to target until it succeeds and the coordinator
// has been told, retrying with backoff while target stays pending.
func (p *primary) copyLoop(ctx context.Context, target string, version uint64) {
	backoff := 100 * time.Millisecond
	copied := false
	var took time.Duration
	var size int64
	for ctx.Err() == nil {
		var err error
		if !copied {
			start := time.Now()
			err = p.copyTo(ctx, target)
			if err == nil {
				copied = true
				took = time.Since(start)
				_, size = p.d.store.ShardStats(p.shard)
				p.d.m.ShardMovesTotal.WithLabelValues("ok").Inc()
				p.d.publish(shardgate.Event{Type: "migration", At: p.d.nowMS(), Data: map[string]any{
					"shard": p.shard, "to": target, "phase": "copied", "ms": time.Since(start).Milliseconds()}})
			} else {
				p.d.m.ShardMovesTotal.WithLabelValues("error").Inc()
			}
		}
		if copied {
			// Reported until the table stops listing target as pending
			// (which cancels this job): a new coordinator has not heard it.
			err = p.d.reportCopied(ctx, copiedReq{Shard: p.shard, Node: target, Version: version,
				From: p.d.name, Bytes: size, MS: took.Milliseconds()})
			if err == nil {
				backoff = time.Second
			}
		}
		p.d.log.Debug("shard copy", "shard", p.shard, "to", target, "copied", copied, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// copyTo resets target's copy and streams a snapshot. The snapshot's read
// transaction opens between two batches (batchMu), and every batch after it
// is mirrored to target, so the two together hold every write.
func (p *primary) copyTo(ctx context.Context, target string) error {
	p.d.publish(shardgate.Event{Type: "migration", At: p.d.nowMS(), Data: map[string]any{"shard": p.shard, "to": target, "phase": "started"}})
	p.batchMu.Lock()
	locked := true
	unlock := func() {
		if locked {
			locked = false
			p.batchMu.Unlock()
		}
	}
	defer unlock()
	// A home whose store went back in time (restarted on an empty or an
	// older data dir) holds less than its backups until its writer has
	// caught up: a copy streamed before would be short, and once cut over
	// the holders with the full copy may be dropped. The probe that found
	// it saw a node replaced on an empty data dir copy 0 bytes of shards
	// that held thousands of acknowledged messages.
	if !p.ready.Load() {
		return shardgate.Errorf(shardgate.KindUnavailable, "shard %d: its home %s has not yet compared its store with the shard's backups", p.shard, p.d.name)
	}
	// Stamp every request with the table in force now: the job may outlive
	// the table it started under, and holders fence older stamps.
	// The attempt's name lets the holder tell this copy's requests from
	// a former attempt's that it may still be running (replica.go).
	attempt := time.Now().UnixNano()
	reset := snapshotReq{Shard: p.shard, Version: p.d.table().Version, Reset: true, Attempt: attempt}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := p.d.links.Call(rctx, target, methodSnapshot, reset, nil)
	cancel()
	if err != nil {
		return err
	}
	return p.d.store.Snapshot(ctx, p.shard, p.d.cfg.SnapshotChunkBytes, func(ops []store.Op) error {
		unlock()
		return p.d.links.Call(ctx, target, methodSnapshot, snapshotReq{Shard: p.shard, Version: p.d.table().Version, Attempt: attempt, Ops: ops}, nil)
	})
}

// copiedReq reports a complete copy of Shard from its home From to Node,
// with its size and how long it took (for estimates and the event log).
type copiedReq struct {
	Shard   int    `json:"shard"`
	Node    string `json:"node"`
	Version uint64 `json:"version"`
	From    string `json:"from,omitempty"`
	Bytes   int64  `json:"bytes,omitempty"`
	MS      int64  `json:"ms,omitempty"`
}

// reportCopied tells the coordinator a copy is complete.
func (n *Node) reportCopied(ctx context.Context, req copiedReq) error {
	coord := n.coordinatorName()
	if coord == "" {
		return shardgate.Errorf(shardgate.KindUnavailable, "no coordinator")
	}
	if coord == n.name {
		n.coord.copiedReport(req)
		return nil
	}
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return n.links.Call(c, coord, methodCopied, req, nil)
}
