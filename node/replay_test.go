package node

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/shard"
	"github.com/shardgate/shardgate/store"
)

// A home's write that never reached its backups can be replaced there by
// the next home's write at the same seq while the first write's
// idempotency record stays. A retry of the first send must then be stored
// anew, not answered with the seq that now holds someone else's message
// (the chaos suite saw that as an acknowledged message missing from the
// inbox).
func TestRetryWhoseRecordOutlivedItsMessageIsStoredAnew(t *testing.T) {
	st, ctx := openStore(t)
	other := shardgate.Message{Seq: 1, From: "b", ID: "y", Data: json.RawMessage(`2`), TS: 1}
	if err := st.Apply(ctx, []store.Op{
		{Kind: store.OpMessage, Shard: 0, Key: "k", Msg: other},
		{Kind: store.OpIdem, Shard: 0, Key: "k", From: "b", ID: "y", Seq: 1},
		{Kind: store.OpIdem, Shard: 0, Key: "k", From: "a", ID: "x", Seq: 1}, // outlived its message
	}); err != nil {
		t.Fatal(err)
	}
	p := newPrimary(&homeDeps{ctx: ctx, store: st, cfg: Config{Now: time.Now}}, 0)
	send := func(from, id string) *writeReq {
		return &writeReq{kind: writeSend, key: "k", from: from, id: id, data: json.RawMessage(`1`), attempt: from + id}
	}

	_, seqs, err := p.assign(shard.Table{}, []*writeReq{send("a", "x"), send("b", "y")})
	if err != nil {
		t.Fatal(err)
	}
	if seqs[0] != 2 {
		t.Errorf("the retry of (a, x) got seq %d, want 2: seq 1 holds (b, y)", seqs[0])
	}
	if seqs[1] != 1 {
		t.Errorf("the retry of (b, y) got seq %d, want its own seq 1", seqs[1])
	}
	// The same holds for a record of the in-doubt book.
	p.inDoubt.put("ax-doubt", "k", 1, time.Now())
	r := send("a", "z")
	r.attempt = "ax-doubt"
	_, seqs, err = p.assign(shard.Table{}, []*writeReq{r})
	if err != nil {
		t.Fatal(err)
	}
	if seqs[0] == 1 {
		t.Errorf("an in-doubt record pointing at another send's message was answered with its seq")
	}
}
