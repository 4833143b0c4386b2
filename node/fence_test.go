package node

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/metrics"
	"github.com/shardgate/shardgate/shard"
	"github.com/shardgate/shardgate/store"
)

// A node cut off while it was a shard's home keeps its writer after the
// partition heals, until it learns the newer table; meanwhile the new home
// may copy the shard into its store. That writer must not write on top:
// it refuses while the shard's fence is newer than its table, and once it
// is home again it takes seqs from the store, not from what it remembered
// before the cut. (The chaos suite saw a healed node write seqs it
// remembered over the new home's copy, losing the writes acknowledged
// while it was cut off.)
func TestStaleHomeDoesNotWriteOverANewerHomesCopy(t *testing.T) {
	st, ctx := openStore(t)

	var mu sync.Mutex
	table := shard.Table{Version: 5, Shards: []shard.Assignment{{Owner: "n3"}}}
	fence := uint64(5)
	var shardLock sync.Mutex
	d := &homeDeps{
		name: "n3", ctx: ctx, store: st, m: metrics.New(),
		cfg:         Config{Now: time.Now, ReplicateTimeout: time.Second},
		commitLocal: st.Apply,
		table:       func() shard.Table { mu.Lock(); defer mu.Unlock(); return table },
		canWrite:    func(int, shard.Table) error { return nil },
		deliver:     func(string, []shardgate.Message) {},
		publish:     func(shardgate.Event) {},
		fence:       func(int) (uint64, error) { mu.Lock(); defer mu.Unlock(); return fence, nil },
		lockShard:   func(int) func() { shardLock.Lock(); return shardLock.Unlock },
	}
	p := newPrimary(d, 0)
	send := func(id string) (uint64, error) {
		r := &writeReq{ctx: ctx, kind: writeSend, key: "k", from: "s", id: id, data: json.RawMessage(`1`),
			attempt: id, start: time.Now(), done: make(chan writeResult, 1)}
		p.process([]*writeReq{r})
		res := <-r.done
		return res.seq, res.err
	}

	// Before the cut this writer gave k seq 1.
	if seq, err := send("before"); err != nil || seq != 1 {
		t.Fatalf("first send: seq %d, %v", seq, err)
	}
	// Cut off, it did not hear of table v7, whose home wrote k's seqs 2
	// and 3 and copied the shard here (its copy raised the fence to 7).
	newer := []store.Op{
		{Kind: store.OpMessage, Shard: 0, Key: "k", Msg: shardgate.Message{Seq: 2, From: "s", ID: "m2", Data: json.RawMessage(`2`), TS: 1}},
		{Kind: store.OpMessage, Shard: 0, Key: "k", Msg: shardgate.Message{Seq: 3, From: "s", ID: "m3", Data: json.RawMessage(`3`), TS: 1}},
	}
	if err := st.Apply(ctx, newer); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	fence = 7
	mu.Unlock()

	if seq, err := send("stale"); shardgate.KindOf(err) != shardgate.KindUnavailable {
		t.Fatalf("a send to the stale home was answered seq %d, %v; want 1003 until it catches up", seq, err)
	}
	msgs, last, err := st.Read(0, "k", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if last != 3 || len(msgs) != 3 || msgs[1].ID != "m2" || msgs[2].ID != "m3" {
		t.Fatalf("the new home's messages were overwritten: last %d, %+v", last, msgs)
	}

	// Caught up and home again (table v9): the next seq follows the store.
	mu.Lock()
	table, fence = shard.Table{Version: 9, Shards: []shard.Assignment{{Owner: "n3"}}}, 9
	mu.Unlock()
	if seq, err := send("after"); err != nil || seq != 4 {
		t.Fatalf("send once caught up: seq %d, %v; want 4", seq, err)
	}
}
