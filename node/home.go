package node

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/metrics"
	"github.com/shardgate/shardgate/shard"
	"github.com/shardgate/shardgate/store"
)

// home is the shard home part: one writer (primary) per shard this node
// owns, each replicating its batches to the shard's backups and pending
// copies and streaming copies to new holders. It owns the writers; the
// table part tells it, through apply, which shards are at home here.
type home struct {
	homeDeps

	mu        sync.RWMutex
	primaries map[int]*primary
}

// homeDeps is what the shard home is given; it reaches nothing else.
type homeDeps struct {
	name string
	cfg  Config
	log  *slog.Logger
	m    *metrics.Metrics
	// ctx ends every writer and copy when the node stops.
	ctx   context.Context
	store homeStore
	links Links

	// commitLocal commits ops to the local store, turning a full disk into a
	// refusal (see diskGuard).
	commitLocal func(ctx context.Context, ops []store.Op) error
	table       func() shard.Table // the table in force
	// canWrite says whether this node may acknowledge writes of a shard
	// under t now (state, quorum, a newer table elsewhere).
	canWrite func(id int, t shard.Table) error
	// deliver hands committed messages of key to its connections; it must
	// not block (it queues).
	deliver func(key string, msgs []shardgate.Message)
	// publish emits an engine event; it never blocks.
	publish func(e shardgate.Event)
	// reportCopied tells the coordinator a copy is complete.
	reportCopied func(ctx context.Context, req copiedReq) error
	// fence is the newest table version another node's writes to a shard
	// held here were stamped with (replicaSet); lockShard takes the lock
	// under which such writes are applied.
	fence     func(id int) (uint64, error)
	lockShard func(id int) (unlock func())
}

func newHome(d homeDeps) (*home, error) {
	if d.name == "" {
		return nil, errors.New("shard home: node name is empty")
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	if d.m == nil {
		d.m = metrics.New()
	}
	if d.cfg.Now == nil {
		d.cfg.Now = time.Now
	}
	if d.ctx == nil || d.store == nil || d.commitLocal == nil || d.links == nil || d.table == nil || d.canWrite == nil ||
		d.deliver == nil || d.publish == nil || d.reportCopied == nil || d.fence == nil || d.lockShard == nil {
		return nil, errors.New("shard home: a dependency is missing")
	}
	if d.cfg.WriterQueue <= 0 || d.cfg.WriterQueueBytes <= 0 || d.cfg.MaxBatch <= 0 || d.cfg.SnapshotChunkBytes <= 0 {
		return nil, errors.New("shard home: writer queue bounds, batch and chunk sizes must be positive")
	}
	return &home{homeDeps: d, primaries: map[int]*primary{}}, nil
}

func (d *homeDeps) nowMS() int64 { return d.cfg.Now().UnixMilli() }

// apply starts writers for the shards t puts at home here, stops those of
// shards it moved away, and tells every writer of the new table (copies to
// start or cancel). Calls must be serialised by the caller.
func (h *home) apply(t shard.Table) {
	var stop []*primary
	var owned []*primary
	h.mu.Lock()
	for id := range t.Shards {
		mine := t.Shards[id].Owner == h.name
		p := h.primaries[id]
		switch {
		case mine && p == nil:
			p = newPrimary(&h.homeDeps, id)
			h.primaries[id] = p
			owned = append(owned, p)
			p.start()
		case mine:
			owned = append(owned, p)
		case p != nil:
			delete(h.primaries, id)
			stop = append(stop, p)
		}
	}
	h.mu.Unlock()
	for _, p := range stop {
		p.stop()
	}
	for _, p := range owned {
		p.tableChanged(t)
	}
}

// writer returns the writer of shard id if this node is its home.
func (h *home) writer(id int) (*primary, error) {
	h.mu.RLock()
	p := h.primaries[id]
	h.mu.RUnlock()
	if p == nil {
		return nil, errNotHome(id)
	}
	return p, nil
}

// loaded says whether shard id has its writer running here, and whether
// that writer has compared its store with the shard's backups (until then
// it refuses writes).
func (h *home) loaded(id int) (running, caughtUp bool) {
	h.mu.RLock()
	p := h.primaries[id]
	h.mu.RUnlock()
	return p != nil, p != nil && p.ready.Load()
}

// stopAll stops every writer and waits for them.
func (h *home) stopAll() {
	h.mu.Lock()
	ps := h.primaries
	h.primaries = map[int]*primary{}
	h.mu.Unlock()
	for _, p := range ps {
		p.stop()
	}
}
