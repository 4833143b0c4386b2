package node

import (
	"encoding/json"
	"testing"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/metrics"
	"github.com/shardgate/shardgate/shard"
	"github.com/shardgate/shardgate/store"
)

// A home copies a shard here; its first attempt timed out while this node
// was slow, and it started again. The first attempt's requests may still
// run here after the second's: its reset must not discard the second copy
// (the mirrored writes that follow would leave the keys' later messages
// without their earlier ones, and the copy would be reported complete; the
// chaos suite lost the first messages of keys so), and its chunks must not
// mix in. A home that names no attempt (an older version) is served as
// before.
func TestAStaleCopyAttemptDoesNotDiscardTheNewerCopy(t *testing.T) {
	st, ctx := openStore(t)
	table := shard.Table{Version: 5, Shards: []shard.Assignment{{Owner: "h", Pending: []string{"n2"}}}}
	r, err := newReplicaSet(replicaDeps{name: "n2", partitions: 1, store: st, m: metrics.New(),
		table: func() shard.Table { return table }, commitLocal: st.Apply})
	if err != nil {
		t.Fatal(err)
	}
	msgs := func(seqs ...uint64) []store.Op {
		var ops []store.Op
		for _, s := range seqs {
			ops = append(ops, store.Op{Kind: store.OpMessage, Shard: 0, Key: "k",
				Msg: shardgate.Message{Seq: s, From: "s", Data: json.RawMessage(`1`), TS: 1}})
		}
		return ops
	}
	held := func() int {
		got, _, err := st.Read(0, "k", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	call := func(req snapshotReq) error { return r.snapshot(ctx, "h", req) }

	// The second attempt: reset, then its chunk.
	if err := call(snapshotReq{Shard: 0, Version: 5, Reset: true, Attempt: 200}); err != nil {
		t.Fatalf("reset of attempt 2: %v", err)
	}
	if err := call(snapshotReq{Shard: 0, Version: 5, Attempt: 200, Ops: msgs(1, 2, 3)}); err != nil {
		t.Fatalf("chunk of attempt 2: %v", err)
	}
	// The first attempt's reset and chunk, late.
	if err := call(snapshotReq{Shard: 0, Version: 5, Reset: true, Attempt: 100}); shardgate.KindOf(err) != shardgate.KindConflict {
		t.Errorf("a stale attempt's reset: %v, want a conflict", err)
	}
	if err := call(snapshotReq{Shard: 0, Version: 5, Attempt: 100, Ops: msgs(9)}); shardgate.KindOf(err) != shardgate.KindConflict {
		t.Errorf("a stale attempt's chunk: %v, want a conflict", err)
	}
	if n := held(); n != 3 {
		t.Fatalf("the second copy holds %d messages after the first attempt's late requests, want 3", n)
	}
	// The table changed during the copy: the attempt's chunks carry the
	// newer table and are taken; a stale attempt's are not.
	if err := call(snapshotReq{Shard: 0, Version: 6, Attempt: 200, Ops: msgs(4)}); err != nil {
		t.Errorf("chunk of attempt 2 under table v6: %v", err)
	}
	if err := call(snapshotReq{Shard: 0, Version: 6, Attempt: 100, Ops: msgs(9)}); shardgate.KindOf(err) != shardgate.KindConflict {
		t.Errorf("a stale attempt's chunk under table v6: %v, want a conflict", err)
	}
	if n := held(); n != 4 {
		t.Fatalf("the copy holds %d messages, want 4", n)
	}
	// A third attempt starts over, and an older home's reset is obeyed.
	if err := call(snapshotReq{Shard: 0, Version: 6, Reset: true, Attempt: 300}); err != nil || held() != 0 {
		t.Errorf("reset of attempt 3: %v, %d messages left", err, held())
	}
	if err := call(snapshotReq{Shard: 0, Version: 6, Attempt: 300, Ops: msgs(1)}); err != nil {
		t.Fatal(err)
	}
	// A newer table's home may have a slower clock: its reset is taken.
	if err := call(snapshotReq{Shard: 0, Version: 7, Reset: true, Attempt: 50}); err != nil || held() != 0 {
		t.Errorf("reset of a newer table's attempt with an earlier clock: %v, %d messages left", err, held())
	}
	if err := call(snapshotReq{Shard: 0, Version: 7, Reset: true}); err != nil || held() != 0 {
		t.Errorf("a reset that names no attempt: %v, %d messages left", err, held())
	}
}
