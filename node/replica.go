package node

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/metrics"
	"github.com/shardgate/shardgate/shard"
	"github.com/shardgate/shardgate/store"
)

// replicaSet applies writes this node receives as a backup or pending
// holder. Writes of one shard are applied one batch at a time, in the order
// the home sends them; the fence of each shard is the newest table version
// any accepted write was stamped with, and older stamps are refused: a home
// that has been replaced cannot get a write acknowledged.
type replicaSet struct {
	replicaDeps
	mu    sync.Mutex
	locks map[int]*sync.Mutex
	fence map[int]uint64
	// copying is, per shard, the copy attempt whose reset came last: the
	// chunks of any other attempt stamped with the same table are stale.
	copying map[int]copyAttempt
}

// copyAttempt names one try of a home at copying a shard here.
type copyAttempt struct {
	version uint64 // the table the attempt was stamped with
	attempt int64  // the home's clock when the attempt began (UnixNano)
}

// replicaDeps is what the replica side is given; it reaches nothing else.
type replicaDeps struct {
	name       string
	partitions int
	store      replicaStore
	m          *metrics.Metrics
	table      func() shard.Table // the table in force
	// commitLocal commits ops to the local store, turning a full disk
	// into a refusal (see diskGuard).
	commitLocal func(ctx context.Context, ops []store.Op) error
}

func newReplicaSet(d replicaDeps) (*replicaSet, error) {
	if d.name == "" || d.partitions <= 0 {
		return nil, errors.New("replica side: node name and partitions are required")
	}
	if d.store == nil || d.table == nil || d.commitLocal == nil {
		return nil, errors.New("replica side: a dependency is missing")
	}
	if d.m == nil {
		d.m = metrics.New()
	}
	return &replicaSet{replicaDeps: d, locks: map[int]*sync.Mutex{}, fence: map[int]uint64{}, copying: map[int]copyAttempt{}}, nil
}

// linkRoutes are the node-link methods the replica side serves: batches
// from a shard's home, chunks of a shard copy, and what this node holds of
// a shard, for a new home to compare with its own (see catchup.go).
func (r *replicaSet) linkRoutes() []linkRoute {
	return []linkRoute{
		{methodReplicate, typed(func(ctx context.Context, from string, req replicateReq) (any, error) {
			return r.replicate(ctx, from, req)
		})},
		{methodSnapshot, typed(func(ctx context.Context, from string, req snapshotReq) (any, error) {
			return done(r.snapshot(ctx, from, req))
		})},
		{methodMarks, typed(func(_ context.Context, _ string, req marksReq) (any, error) { return r.marks(req) })},
		{methodHeldRead, typed(func(_ context.Context, _ string, req heldReadReq) (any, error) { return r.heldRead(req) })},
	}
}

func (r *replicaSet) lock(id int) func() {
	r.mu.Lock()
	l, ok := r.locks[id]
	if !ok {
		l = &sync.Mutex{}
		r.locks[id] = l
	}
	r.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func (r *replicaSet) fenceOf(id int) (uint64, error) {
	r.mu.Lock()
	f, ok := r.fence[id]
	r.mu.Unlock()
	if ok {
		return f, nil
	}
	f, err := r.store.Fence(id)
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	if cur := r.fence[id]; cur > f {
		f = cur
	}
	r.fence[id] = f
	r.mu.Unlock()
	return f, nil
}

func (r *replicaSet) setFence(id int, v uint64) {
	r.mu.Lock()
	if v > r.fence[id] {
		r.fence[id] = v
	}
	r.mu.Unlock()
}

// tableChanged raises the fence of every shard this node now owns, so a
// former home's late writes are refused even before the new home wrote.
func (r *replicaSet) tableChanged(t shard.Table) {
	for id, a := range t.Shards {
		if a.Owner == r.name {
			r.setFence(id, t.Version)
		}
	}
}

// check refuses a write from `from` stamped with version for shard id when
// a newer home exists.
func (r *replicaSet) check(from string, id int, version uint64) error {
	if id < 0 || id >= r.partitions {
		return shardgate.Errorf(shardgate.KindInvalid, "shard %d out of range", id)
	}
	f, err := r.fenceOf(id)
	if err != nil {
		return err
	}
	if version < f {
		return shardgate.Errorf(shardgate.KindUnavailable, "write for shard %d stamped with table v%d is older than v%d: %s is no longer its home", id, version, f, from)
	}
	t := r.table()
	if t.Shards != nil && t.Version > version && t.Shards[id].Owner != from {
		return shardgate.Errorf(shardgate.KindUnavailable, "%s is no longer the home of shard %d (table v%d)", from, id, t.Version)
	}
	return nil
}

func (r *replicaSet) replicate(ctx context.Context, from string, req replicateReq) (replicateResp, error) {
	unlock := r.lock(req.Shard)
	defer unlock()
	if err := r.check(from, req.Shard, req.Version); err != nil {
		return replicateResp{}, err
	}
	if !req.Pending {
		gaps, err := r.gaps(req)
		if err != nil || len(gaps) > 0 {
			return replicateResp{Gaps: gaps}, err
		}
	}
	ops := append(req.Ops, store.Op{Kind: store.OpFence, Shard: req.Shard, Version: req.Version})
	if err := r.commitLocal(ctx, ops); err != nil {
		return replicateResp{}, err
	}
	r.setFence(req.Shard, req.Version)
	msgs := 0
	for _, op := range req.Ops {
		if op.Kind == store.OpMessage {
			msgs++
		}
	}
	r.m.MessagesReplicated.Add(float64(msgs))
	return replicateResp{}, nil
}

// staleCopy reports whether req belongs to another copy attempt than the
// newest one whose reset reached this node: a reset of an older attempt
// under the same table (a newer table's reset starts afresh, and one of an
// older table is fenced), or a chunk of any attempt but the newest (every
// attempt's reset comes before its chunks; a chunk may carry a newer table
// than its reset when the table changed during the copy). Requests that
// name no attempt (an older home) are taken as they come.
func (r *replicaSet) staleCopy(req snapshotReq) bool {
	if req.Attempt == 0 {
		return false
	}
	r.mu.Lock()
	cur, ok := r.copying[req.Shard]
	r.mu.Unlock()
	switch {
	case !ok:
		return false
	case req.Reset:
		return req.Version == cur.version && req.Attempt < cur.attempt
	}
	return req.Attempt != cur.attempt
}

// gaps lists keys whose first message in the batch does not follow what
// this node already holds.
func (r *replicaSet) gaps(req replicateReq) ([]gap, error) {
	first := map[string]uint64{}
	for _, op := range req.Ops {
		if op.Kind != store.OpMessage {
			continue
		}
		if s, ok := first[op.Key]; !ok || op.Msg.Seq < s {
			first[op.Key] = op.Msg.Seq
		}
	}
	var out []gap
	for key, seq := range first {
		ok, err := r.store.HasSeq(req.Shard, key, seq-1)
		if err != nil {
			return nil, err
		}
		if !ok {
			have, err := r.store.LastSeq(req.Shard, key)
			if err != nil {
				return nil, err
			}
			out = append(out, gap{Key: key, Have: have})
		}
	}
	slices.SortFunc(out, func(a, b gap) int {
		if a.Key < b.Key {
			return -1
		}
		return 1
	})
	return out, nil
}

// snapshotReq is one chunk of a shard copy; Reset starts the copy by
// discarding whatever stale data this node held for the shard. Attempt
// names the copy attempt (the home's clock when it began; 0 from a home of
// a version that does not say).
type snapshotReq struct {
	Shard   int        `json:"shard"`
	Version uint64     `json:"version"`
	Reset   bool       `json:"reset"`
	Attempt int64      `json:"attempt,omitempty"`
	Ops     []store.Op `json:"ops"`
}

func (r *replicaSet) snapshot(ctx context.Context, from string, req snapshotReq) error {
	unlock := r.lock(req.Shard)
	defer unlock()
	if err := r.check(from, req.Shard, req.Version); err != nil {
		return err
	}
	// A request of an attempt the home gave up on (a call that timed out
	// here while this node was slow or frozen) may run after the next
	// attempt's: its reset would then discard that copy, and the mirrored
	// writes that follow would leave this node holding a key's later
	// messages without its earlier ones, all the same reported complete.
	// The chaos suite lost the first messages of keys that way.
	if r.staleCopy(req) {
		return shardgate.Errorf(shardgate.KindConflict, "shard %d: this request belongs to a copy that a newer copy replaced", req.Shard)
	}
	if req.Reset {
		t := r.table()
		if t.Shards != nil && t.Version >= req.Version && t.Shards[req.Shard].Owner == r.name {
			return shardgate.Errorf(shardgate.KindConflict, "shard %d is at home on %s: refusing to discard it", req.Shard, r.name)
		}
		if err := r.store.DropShard(req.Shard); err != nil {
			return err
		}
		if req.Attempt != 0 {
			r.mu.Lock()
			r.copying[req.Shard] = copyAttempt{version: req.Version, attempt: req.Attempt}
			r.mu.Unlock()
		}
	}
	ops := append(req.Ops, store.Op{Kind: store.OpFence, Shard: req.Shard, Version: req.Version})
	if err := r.commitLocal(ctx, ops); err != nil {
		return err
	}
	r.setFence(req.Shard, req.Version)
	return nil
}
