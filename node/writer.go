package node

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/shard"
	"github.com/shardgate/shardgate/store"
)

type writeKind uint8

const (
	writeSend writeKind = iota + 1
	writeAck
)

// writeReq is one write waiting for its shard's writer.
type writeReq struct {
	ctx  context.Context // the caller's: a write it gave up on is not stored
	kind writeKind
	key  string
	from string
	data json.RawMessage
	id   string
	// attempt names the Send call this write belongs to (see inDoubtBook).
	attempt string
	seq     uint64 // ack: the cursor
	start   time.Time
	done    chan writeResult
}

type writeResult struct {
	seq uint64
	err error
}

// primary is the writer of one shard on its home. One goroutine owns the
// shard's sequence numbers: it gathers queued writes into a batch, assigns
// seqs, and commits the batch locally and on every other holder at once.
type primary struct {
	d      *homeDeps // the home's dependencies, shared by its writers
	shard  int
	q      chan *writeReq
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// batchMu is held while a batch is in flight; a copy takes it to open
	// its snapshot between two batches, so the snapshot and the writes
	// mirrored afterwards together hold everything.
	batchMu  sync.Mutex
	lastSeq  map[string]uint64
	fencedAt uint64
	// seenFence is the shard's replica fence when lastSeq was last known
	// to match the store (see checkFence). Writer goroutine only.
	seenFence uint64

	copyMu sync.Mutex
	copies map[string]*copyJob // pending holder → its copy

	// ready says the writer has taken from the shard's backups what its
	// store lacked (see catchup.go). Set by the writer goroutine; read by
	// reads, copies and /readyz.
	ready atomic.Bool

	inDoubt    *inDoubtBook
	lastExpiry time.Time // writer goroutine only

	queuedBytes atomic.Int64 // data bytes of the writes in q
}

func newPrimary(d *homeDeps, id int) *primary {
	ctx, cancel := context.WithCancel(d.ctx)
	return &primary{d: d, shard: id, q: make(chan *writeReq, d.cfg.WriterQueue), ctx: ctx, cancel: cancel,
		lastSeq: map[string]uint64{}, copies: map[string]*copyJob{}, inDoubt: newInDoubtBook()}
}

func (p *primary) start() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.run()
	}()
}

// stop cancels the writer and its copies and waits for them; queued writes
// fail as unavailable so their callers retry at the new home.
func (p *primary) stop() {
	p.cancel()
	p.wg.Wait()
	p.copyMu.Lock()
	jobs := p.copies
	p.copies = map[string]*copyJob{}
	p.copyMu.Unlock()
	for _, j := range jobs {
		j.cancel()
		<-j.done
	}
}

// submit queues a write and waits for its result. A full queue answers
// "rate limited" at once: waiting for room would only move the queue into
// the callers.
func (p *primary) submit(ctx context.Context, r *writeReq) (uint64, error) {
	r.done = make(chan writeResult, 1)
	r.ctx = ctx
	size := int64(len(r.data))
	if p.queuedBytes.Add(size) > p.d.cfg.WriterQueueBytes && size > 0 {
		p.queuedBytes.Add(-size)
		p.d.m.WritesShed.Inc()
		return 0, shardgate.Errorf(shardgate.KindRateLimited, "shard %d is overloaded: its home %s has %d bytes of writes queued (limit %d); retry later", p.shard, p.d.name, p.queuedBytes.Load(), p.d.cfg.WriterQueueBytes)
	}
	select {
	case p.q <- r:
	case <-p.ctx.Done():
		p.queuedBytes.Add(-size)
		return 0, errNotHome(p.shard)
	default:
		p.queuedBytes.Add(-size)
		p.d.m.WritesShed.Inc()
		return 0, shardgate.Errorf(shardgate.KindRateLimited, "shard %d is overloaded: its home %s has %d writes queued (limit %d); retry later", p.shard, p.d.name, cap(p.q), cap(p.q))
	}
	select {
	case res := <-r.done:
		return res.seq, res.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (p *primary) run() {
	// The catch-up runs at once, not only before the first write: reads
	// are served from this store too.
	var retry <-chan time.Time
	if p.ensureCaughtUp() != nil {
		retry = time.After(catchUpRetry)
	}
	for {
		select {
		case <-p.ctx.Done():
			p.failQueued()
			return
		case <-retry:
			retry = nil
			if p.ensureCaughtUp() != nil {
				retry = time.After(catchUpRetry)
			}
		case r := <-p.q:
			p.queuedBytes.Add(-int64(len(r.data)))
			batch := []*writeReq{r}
		gather:
			for len(batch) < p.d.cfg.MaxBatch {
				select {
				case r := <-p.q:
					p.queuedBytes.Add(-int64(len(r.data)))
					batch = append(batch, r)
				default:
					break gather
				}
			}
			p.process(batch)
		}
	}
}

func (p *primary) failQueued() {
	for {
		select {
		case r := <-p.q:
			r.done <- writeResult{err: errNotHome(p.shard)}
		default:
			return
		}
	}
}

func fail(batch []*writeReq, err error) {
	for _, r := range batch {
		r.done <- writeResult{err: err}
	}
}

func (p *primary) process(batch []*writeReq) {
	if err := p.ensureCaughtUp(); err != nil {
		fail(batch, err)
		return
	}
	p.batchMu.Lock()
	defer p.batchMu.Unlock()
	batch = p.dropAbandoned(batch)
	if len(batch) == 0 {
		return
	}
	if now := p.d.cfg.Now(); now.Sub(p.lastExpiry) > inDoubtTTL/4 {
		p.lastExpiry = now
		p.inDoubt.expire(now)
	}
	t := p.d.table()
	if err := p.d.canWrite(p.shard, t); err != nil {
		fail(batch, err)
		return
	}
	// Held until the batch is committed: a copy or write from another
	// home cannot land in this shard between the fence check and the
	// commit. Only a stale home ever contends for it.
	unlock := p.d.lockShard(p.shard)
	defer unlock()
	if err := p.checkFence(t); err != nil {
		fail(batch, err)
		return
	}
	ops, seqs, err := p.assign(t, batch)
	if err != nil {
		p.lastSeq = map[string]uint64{}
		fail(batch, err)
		return
	}
	if len(ops) > 0 {
		localOK, err := p.commit(t, ops)
		if err != nil {
			if localOK {
				// Stored here, not everywhere: a retry of these sends
				// must get the same seqs, never new ones.
				now := p.d.cfg.Now()
				for i, r := range batch {
					if r.kind == writeSend {
						p.inDoubt.put(r.attempt, r.key, seqs[i], now)
					}
				}
			}
			fail(batch, err)
			return
		}
	}
	for _, r := range batch {
		p.inDoubt.remove(r.attempt)
	}
	if p.fencedAt < t.Version {
		p.fencedAt = t.Version
	}
	for i, r := range batch {
		r.done <- writeResult{seq: seqs[i]}
		if r.kind == writeSend {
			p.d.m.AckLatency.Observe(time.Since(r.start).Seconds())
		}
	}
	p.deliver(ops)
}

// checkFence refuses the batch when another node has written this shard
// here as its home under a newer table than this node's: a node cut off
// while it was home still runs its writer after the partition heals, until
// it learns the newer table, and by then the new home may have copied the
// shard into this store. Whenever the fence has moved, the seqs the writer
// remembers are forgotten: the store may have been reset and refilled
// beneath it, and a seq from before would overwrite the new home's
// messages (the chaos suite saw a healed node do so, losing the
// acknowledged writes made while it was cut off).
func (p *primary) checkFence(t shard.Table) error {
	f, err := p.d.fence(p.shard)
	if err != nil {
		return fmt.Errorf("node: fence of shard %d: %w", p.shard, err)
	}
	if f != p.seenFence {
		p.lastSeq = map[string]uint64{}
		p.seenFence = f
	}
	if f > t.Version {
		return shardgate.Errorf(shardgate.KindUnavailable, "shard %d was written by a newer home (table v%d) than this node knows (v%d): retry once it has caught up", p.shard, f, t.Version)
	}
	return nil
}

// dropAbandoned answers the writes whose callers stopped waiting: they are
// not stored, so the caller's "unavailable" stays true.
func (p *primary) dropAbandoned(batch []*writeReq) []*writeReq {
	live := batch[:0]
	for _, r := range batch {
		if r.ctx != nil && r.ctx.Err() != nil {
			r.done <- writeResult{err: shardgate.Errorf(shardgate.KindUnavailable, "shard %d: the write waited too long in its writer's queue and was not stored", p.shard)}
			continue
		}
		live = append(live, r)
	}
	return live
}

// assign turns a batch into store operations: idempotent retries get the
// seq their first attempt got (and re-replicate it, since that attempt may
// have failed on a backup), new messages get the next seq of their key.
func (p *primary) assign(t shard.Table, batch []*writeReq) ([]store.Op, []uint64, error) {
	st := p.d.store
	var ops []store.Op
	if p.fencedAt < t.Version {
		ops = append(ops, store.Op{Kind: store.OpFence, Shard: p.shard, Version: t.Version})
	}
	seqs := make([]uint64, len(batch))
	type idem struct{ key, from, id string }
	inBatch := map[idem]uint64{}
	now := p.d.nowMS()
	for i, r := range batch {
		if r.kind == writeAck {
			ops = append(ops, store.Op{Kind: store.OpCursor, Shard: p.shard, Key: r.key, Seq: r.seq})
			continue
		}
		if seq, ok := p.inDoubt.get(r.attempt, r.key); ok {
			// A retry of a send this home stored but could not
			// replicate: send the stored message again.
			again, ok, err := p.replay(r, seq)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				seqs[i] = seq
				ops = append(ops, again...)
				continue
			}
		}
		k := idem{r.key, r.from, r.id}
		if r.id != "" {
			if seq, ok := inBatch[k]; ok {
				seqs[i] = seq
				continue
			}
			seq, found, err := st.Idem(p.shard, r.key, r.from, r.id)
			if err != nil {
				return nil, nil, err
			}
			if found {
				again, ok, err := p.replay(r, seq)
				if err != nil {
					return nil, nil, err
				}
				if ok {
					seqs[i] = seq
					inBatch[k] = seq
					ops = append(ops, again...)
					continue
				}
			}
		}
		seq, err := p.nextSeq(r.key)
		if err != nil {
			return nil, nil, err
		}
		seqs[i] = seq
		msg := shardgate.Message{Seq: seq, From: r.from, Data: r.data, TS: now, ID: r.id}
		ops = append(ops, store.Op{Kind: store.OpMessage, Shard: p.shard, Key: r.key, Msg: msg})
		if r.id != "" {
			inBatch[k] = seq
			ops = append(ops, store.Op{Kind: store.OpIdem, Shard: p.shard, Key: r.key, From: r.from, ID: r.id, Seq: seq})
		}
	}
	return ops, seqs, nil
}

// replay re-sends a stored message and its idempotency record (if it has
// an id). ok is false when another send's message is stored at seq: the
// record outlived its message (a home's write that never reached its
// backups was replaced there by the next home's write at the same seq),
// and answering seq would acknowledge someone else's message, so the send
// is stored anew. A message no longer there (retention) is still answered
// with its seq: it was stored once. A read that fails is an error, not an
// answer: the retry is refused rather than acknowledged unchecked.
func (p *primary) replay(r *writeReq, seq uint64) (ops []store.Op, ok bool, err error) {
	msgs, _, err := p.d.store.Read(p.shard, r.key, seq-1, 1)
	if err != nil {
		return nil, false, fmt.Errorf("node: read seq %d of %q in shard %d to answer a retry: %w", seq, r.key, p.shard, err)
	}
	found := len(msgs) == 1 && msgs[0].Seq == seq
	if found && (msgs[0].From != r.from || msgs[0].ID != r.id) {
		return nil, false, nil
	}
	if r.id != "" {
		ops = append(ops, store.Op{Kind: store.OpIdem, Shard: p.shard, Key: r.key, From: r.from, ID: r.id, Seq: seq})
	}
	if found {
		ops = append(ops, store.Op{Kind: store.OpMessage, Shard: p.shard, Key: r.key, Msg: msgs[0]})
	}
	return ops, true, nil
}

func (p *primary) nextSeq(key string) (uint64, error) {
	last, ok := p.lastSeq[key]
	if !ok {
		var err error
		last, err = p.d.store.LastSeq(p.shard, key)
		if err != nil {
			return 0, err
		}
	}
	p.lastSeq[key] = last + 1
	if len(p.lastSeq) > 100_000 {
		p.lastSeq = map[string]uint64{key: last + 1}
	}
	return last + 1, nil
}

// deliver pushes committed messages to every node with connections of
// their key.
func (p *primary) deliver(ops []store.Op) {
	byKey := map[string][]shardgate.Message{}
	var order []string
	for _, op := range ops {
		if op.Kind != store.OpMessage {
			continue
		}
		if _, ok := byKey[op.Key]; !ok {
			order = append(order, op.Key)
		}
		byKey[op.Key] = append(byKey[op.Key], op.Msg)
	}
	stored := 0
	for _, key := range order {
		stored += len(byKey[key])
		p.d.deliver(key, byKey[key])
	}
	p.d.m.MessagesStored.Add(float64(stored))
}
