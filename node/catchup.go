package node

import (
	"context"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/shard"
	"github.com/shardgate/shardgate/store"
)

// A shard's new writer first asks the shard's backups where each of their
// keys stands and takes from them whatever its own store lacks, before it
// hands out a single seq. Every acknowledged write is on the home and on
// every backup, so a backup holds more than the home in two cases only: a
// write that was in flight when the home stopped (committed on the backup,
// not yet on the home, never acknowledged), or a home whose store went back
// in time: a log cut short at its end by a disk that
// lost writes it had reported synced (which recovery cannot tell from a
// torn write), or a data dir restored from an older copy. A home that did
// not look would hand out those messages' seqs again, and its backups would
// take the new messages in their place: acknowledged messages lost on every
// copy. Taking a write that was in flight stores a message whose send was
// answered "unavailable" (or not at all), which a retry with the same id
// finds by its idempotency record, as after any failed send.

// catchUpCallTimeout bounds each question the new writer asks a backup.
const catchUpCallTimeout = 5 * time.Second

// catchUpRetry is how often a writer that could not reach its backups
// tries again while no write comes to make it try.
const catchUpRetry = time.Second

// marksReq asks a holder for the marks of a shard's keys after After.
type marksReq struct {
	Shard int    `json:"shard"`
	After string `json:"after,omitempty"`
}

type marksResp struct {
	Marks []store.Mark `json:"marks"`
	More  bool         `json:"more,omitempty"`
}

// heldReadReq asks a holder for a key's messages after Since from its own
// store, whatever its role.
type heldReadReq struct {
	Shard int    `json:"shard"`
	Key   string `json:"key"`
	Since uint64 `json:"since"`
}

func (r *replicaSet) marks(req marksReq) (marksResp, error) {
	if req.Shard < 0 || req.Shard >= r.partitions {
		return marksResp{}, shardgate.Errorf(shardgate.KindInvalid, "shard %d out of range", req.Shard)
	}
	marks, more, err := r.store.Marks(req.Shard, req.After, store.MaxMarks)
	if err != nil {
		return marksResp{}, err
	}
	if marks == nil {
		marks = []store.Mark{}
	}
	return marksResp{Marks: marks, More: more}, nil
}

func (r *replicaSet) heldRead(req heldReadReq) (shardgate.HistoryResult, error) {
	if req.Shard < 0 || req.Shard >= r.partitions {
		return shardgate.HistoryResult{}, shardgate.Errorf(shardgate.KindInvalid, "shard %d out of range", req.Shard)
	}
	return r.store.History(req.Shard, req.Key, req.Since, store.MaxReadLimit)
}

// caughtUpTally counts what a catch-up took.
type caughtUpTally struct {
	keys, messages int
}

// ensureCaughtUp runs the catch-up once per writer; until it has succeeded
// every batch is refused as unavailable. It runs between batches, with the
// locks a batch holds, so a copy's snapshot and the writes mirrored after it
// still hold everything. Writer goroutine only.
func (p *primary) ensureCaughtUp() error {
	if p.ready.Load() {
		return nil
	}
	t := p.d.table()
	if err := p.d.canWrite(p.shard, t); err != nil {
		return err
	}
	p.batchMu.Lock()
	defer p.batchMu.Unlock()
	unlock := p.d.lockShard(p.shard)
	defer unlock()
	if err := p.checkFence(t); err != nil {
		return err
	}
	backups, _ := targets(t, p.shard, p.d.name)
	var took caughtUpTally
	for _, peer := range backups {
		if err := p.catchUpFrom(t, peer, &took); err != nil {
			// What was taken is committed; the writer's own seqs are
			// read from the store again either way.
			p.lastSeq = map[string]uint64{}
			return shardgate.Errorf(shardgate.KindUnavailable, "shard %d: its home %s is checking what its backups hold and could not reach %s; retry: %w", p.shard, p.d.name, peer, err)
		}
	}
	p.lastSeq = map[string]uint64{}
	p.ready.Store(true)
	if took.keys > 0 {
		p.d.log.Warn("took messages from the shard's backups that this node's store lacked: writes in flight when it stopped, or writes its store lost (a disk that lost synced writes, a restored data dir)",
			"shard", p.shard, "keys", took.keys, "messages", took.messages)
		p.d.m.MessagesRecovered.Add(float64(took.messages))
	}
	return nil
}

// catchUpFrom takes from peer every key's messages, last seq, floor and
// cursor beyond this store's, each piece committed as a batch of its own on
// this store and on every holder.
func (p *primary) catchUpFrom(t shard.Table, peer string, took *caughtUpTally) error {
	return takeShard(taker{
		shard: p.shard,
		peer:  peer,
		call: func(method string, req, resp any) error {
			ctx, cancel := context.WithTimeout(p.ctx, catchUpCallTimeout)
			defer cancel()
			return p.d.links.Call(ctx, peer, method, req, resp)
		},
		markOf: p.d.store.MarkOf,
		commit: func(ops []store.Op) error {
			_, err := p.commit(t, ops)
			return err
		},
	}, took)
}

// taker takes from one peer what it holds of one shard beyond this store.
type taker struct {
	shard  int
	peer   string
	call   func(method string, req, resp any) error
	markOf func(shard int, key string) (store.Mark, error)
	commit func(ops []store.Op) error
}

func takeShard(tk taker, took *caughtUpTally) error {
	after := ""
	for {
		var resp marksResp
		if err := tk.call(methodMarks, marksReq{Shard: tk.shard, After: after}, &resp); err != nil {
			if shardgate.KindOf(err) == shardgate.KindNotFound {
				return nil // a peer of a version that does not answer: nothing to learn
			}
			return err
		}
		for _, theirs := range resp.Marks {
			if err := takeKey(tk, theirs, took); err != nil {
				return err
			}
		}
		if !resp.More || len(resp.Marks) == 0 {
			return nil
		}
		after = resp.Marks[len(resp.Marks)-1].Key
	}
}

// takeKey brings one key up to theirs, a page of messages at a time.
func takeKey(tk taker, theirs store.Mark, took *caughtUpTally) error {
	mine, err := tk.markOf(tk.shard, theirs.Key)
	if err != nil {
		return err
	}
	if theirs.Last <= mine.Last && theirs.Cursor <= mine.Cursor {
		return nil
	}
	took.keys++
	key, id := theirs.Key, tk.shard
	var ops []store.Op
	since := mine.Last
	if theirs.Floor > since {
		// The peer's retention let go of what lies between: there is
		// nothing to take below its floor.
		ops = append(ops, store.Op{Kind: store.OpTrim, Shard: id, Key: key, Seq: theirs.Floor})
		since = theirs.Floor
	}
	for since < theirs.Last {
		var page shardgate.HistoryResult
		if err := tk.call(methodHeldRead, heldReadReq{Shard: id, Key: key, Since: since}, &page); err != nil {
			return err
		}
		n := 0
		for _, m := range page.Messages {
			if m.Seq <= since || m.Seq > theirs.Last {
				continue
			}
			ops = append(ops, store.Op{Kind: store.OpMessage, Shard: id, Key: key, Msg: m})
			if m.ID != "" {
				ops = append(ops, store.Op{Kind: store.OpIdem, Shard: id, Key: key, From: m.From, ID: m.ID, Seq: m.Seq})
			}
			since = m.Seq
			n++
		}
		if n == 0 {
			break // the rest was trimmed there meanwhile
		}
		took.messages += n
		if err := tk.commit(ops); err != nil {
			return err
		}
		ops = nil
	}
	if theirs.Last > mine.Last {
		ops = append(ops, store.Op{Kind: store.OpLastSeq, Shard: id, Key: key, Seq: theirs.Last})
	}
	if theirs.Cursor > mine.Cursor {
		ops = append(ops, store.Op{Kind: store.OpCursor, Shard: id, Key: key, Seq: theirs.Cursor})
	}
	if len(ops) == 0 {
		return nil
	}
	return tk.commit(ops)
}

// backupCatchUp runs once when the node starts: a store that went back in
// time lost writes of the shards this node backs up too, and a key that is
// not written again would stay short here (a later write's gap check
// repairs only the key it writes), until this node became its home. For
// every shard it backs up in the table in force, it takes from the shard's
// home what its store lacks, and retries a home it could not reach for a
// while. Pages are committed under the shard's replica lock, after the
// check that the peer is still the home: the home's store is the truth,
// and a batch it replicates meanwhile holds the same messages.
func (n *Node) backupCatchUp() {
	backed := func() map[int]string {
		out := map[int]string{}
		for id, a := range n.currentTable().Shards {
			if a.Owner != "" && a.Owner != n.name && containsName(a.Backups, n.name) {
				out[id] = a.Owner
			}
		}
		return out
	}
	todo := backed()
	var took caughtUpTally
	for round := 0; len(todo) > 0 && round < catchUpRounds; round++ {
		if round > 0 {
			select {
			case <-n.ctx.Done():
				return
			case <-time.After(catchUpRetry):
			}
			now := backed()
			for id := range todo {
				if home, ok := now[id]; ok {
					todo[id] = home
				} else {
					delete(todo, id) // the table moved on; a new home looks itself
				}
			}
		}
		unreachable := map[string]bool{}
		for id, home := range todo {
			if unreachable[home] || n.ctx.Err() != nil {
				continue
			}
			if err := n.takeAsBackup(id, home, &took); err != nil {
				n.log.Debug("catch up as a backup", "shard", id, "home", home, "err", err)
				unreachable[home] = true
				continue
			}
			delete(todo, id)
		}
	}
	if len(todo) > 0 {
		n.log.Warn("could not compare this node's copies with their homes after a restart; the next write of each key repairs it", "shards", len(todo))
	}
	if took.keys > 0 {
		n.log.Warn("took messages from the shards' homes that this node's store lacked: writes its store lost (a disk that lost synced writes, a restored data dir)",
			"keys", took.keys, "messages", took.messages)
		n.m.MessagesRecovered.Add(float64(took.messages))
	}
}

// catchUpRounds bounds the tries of a backup's catch-up at start.
const catchUpRounds = 60

func (n *Node) takeAsBackup(id int, home string, took *caughtUpTally) error {
	return takeShard(taker{
		shard: id,
		peer:  home,
		call: func(method string, req, resp any) error {
			ctx, cancel := context.WithTimeout(n.ctx, catchUpCallTimeout)
			defer cancel()
			return n.links.Call(ctx, home, method, req, resp)
		},
		markOf: n.st.MarkOf,
		commit: func(ops []store.Op) error {
			unlock := n.replica.lock(id)
			defer unlock()
			if a := n.currentTable().Shards[id]; a.Owner != home || !containsName(a.Backups, n.name) {
				return shardgate.Errorf(shardgate.KindUnavailable, "%s is no longer the home of shard %d", home, id)
			}
			return n.apply(n.ctx, ops)
		},
	}, took)
}
