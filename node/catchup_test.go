package node

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/store"
)

// takeShard brings a store that went back in time up to its peer's: every
// key's messages, idempotency records, last seq, floor and cursor, over
// pages of marks and of messages, whatever the peer's retention let go.
func TestTakeShardBringsAStoreUpToItsPeer(t *testing.T) {
	peer, ctx := openStore(t)
	mine, err := store.Open(store.Config{Path: filepath.Join(t.TempDir(), "mine.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mine.Close() }) // before openStore's leak check
	const id = 7
	msg := func(key string, seq uint64) store.Op {
		m := shardgate.Message{Seq: seq, From: "s", TS: 1, Data: json.RawMessage(fmt.Sprint(seq))}
		if seq%2 == 0 {
			m.ID = fmt.Sprintf("id-%s-%d", key, seq)
		}
		return store.Op{Kind: store.OpMessage, Shard: id, Key: key, Msg: m}
	}
	idem := func(op store.Op) store.Op {
		return store.Op{Kind: store.OpIdem, Shard: id, Key: op.Key, From: op.Msg.From, ID: op.Msg.ID, Seq: op.Msg.Seq}
	}
	both := func(ops ...store.Op) {
		for _, st := range []*store.Store{peer, mine} {
			if err := st.Apply(ctx, ops); err != nil {
				t.Fatal(err)
			}
		}
	}
	onPeer := func(ops ...store.Op) {
		if err := peer.Apply(ctx, ops); err != nil {
			t.Fatal(err)
		}
	}
	write := func(apply func(...store.Op), key string, from, to uint64) {
		var ops []store.Op
		for seq := from; seq <= to; seq++ {
			op := msg(key, seq)
			ops = append(ops, op)
			if op.Msg.ID != "" {
				ops = append(ops, idem(op))
			}
		}
		apply(ops...)
	}

	write(both, "same", 1, 3)           // nothing to take
	write(both, "behind", 1, 2)         // the peer has 3..5 more
	write(onPeer, "behind", 3, 5)       //
	write(onPeer, "unknown-here", 1, 4) // a key this store never saw
	write(both, "long", 1, 10)          // more than one page of messages to take
	write(onPeer, "long", 11, 2*store.MaxReadLimit+5)
	write(both, "cursor", 1, 3) // only the cursor moved on
	onPeer(store.Op{Kind: store.OpCursor, Shard: id, Key: "cursor", Seq: 3})
	write(both, "trimmed", 1, 2) // the peer let go of 1..6 of 1..9
	write(onPeer, "trimmed", 3, 9)
	onPeer(store.Op{Kind: store.OpTrim, Shard: id, Key: "trimmed", Seq: 6})
	write(both, "ahead-here", 1, 6)      // this store holds more: kept
	for i := range store.MaxMarks + 20 { // more than one page of marks
		write(onPeer, fmt.Sprintf("many-%04d", i), 1, 1)
	}

	var took caughtUpTally
	calls := map[string]int{}
	tk := taker{
		shard: id,
		peer:  "peer",
		call: func(method string, req, resp any) error {
			calls[method]++
			var out any
			var err error
			switch method {
			case methodMarks:
				out, err = (&replicaSet{replicaDeps: replicaDeps{partitions: 16, store: peer}}).marks(req.(marksReq))
			case methodHeldRead:
				out, err = (&replicaSet{replicaDeps: replicaDeps{partitions: 16, store: peer}}).heldRead(req.(heldReadReq))
			default:
				t.Fatalf("unexpected call %s", method)
			}
			if err != nil {
				return err
			}
			b, err := json.Marshal(out) // as over a link
			if err != nil {
				return err
			}
			return json.Unmarshal(b, resp)
		},
		markOf: mine.MarkOf,
		commit: func(ops []store.Op) error { return mine.Apply(ctx, ops) },
	}
	if err := takeShard(tk, &took); err != nil {
		t.Fatal(err)
	}
	if calls[methodMarks] != 2 {
		t.Errorf("%d pages of marks asked for; want 2", calls[methodMarks])
	}
	wantMsgs := 3 + 4 + (2*store.MaxReadLimit + 5 - 10) + 3 + store.MaxMarks + 20
	if took.messages != wantMsgs || took.keys != 5+store.MaxMarks+20 {
		t.Errorf("took %d messages of %d keys; want %d of %d", took.messages, took.keys, wantMsgs, 5+store.MaxMarks+20)
	}

	after := ""
	for {
		marks, more, err := peer.Marks(id, after, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, theirs := range marks {
			got, err := mine.MarkOf(id, theirs.Key)
			if err != nil {
				t.Fatal(err)
			}
			want := theirs
			if theirs.Key == "ahead-here" {
				want.Last = 6
			}
			if got != want {
				t.Errorf("mark of %q here is %+v; the peer's is %+v", theirs.Key, got, theirs)
			}
			h, err := mine.History(id, theirs.Key, 0, store.MaxReadLimit)
			if err != nil {
				t.Fatal(err)
			}
			ph, err := peer.History(id, theirs.Key, 0, store.MaxReadLimit)
			if err != nil {
				t.Fatal(err)
			}
			if theirs.Key != "ahead-here" && !reflect.DeepEqual(h, ph) {
				t.Errorf("history of %q here differs from the peer's:\n%+v\n%+v", theirs.Key, h, ph)
			}
		}
		if !more {
			break
		}
		after = marks[len(marks)-1].Key
	}
	for _, seq := range []uint64{4, 2*store.MaxReadLimit + 4} {
		key := "unknown-here"
		if seq > 4 {
			key = "long"
		}
		got, found, err := mine.Idem(id, key, "s", fmt.Sprintf("id-%s-%d", key, seq))
		if err != nil || !found || got != seq {
			t.Errorf("idempotency record of %s seq %d here: %d %v %v", key, seq, got, found, err)
		}
	}
}
