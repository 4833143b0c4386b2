package node

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/shard"
	"github.com/shardgate/shardgate/store"
)

// unreadable is a store whose reads fail.
type unreadable struct{ *store.Store }

var errUnreadable = errors.New("injected: read failed")

func (unreadable) Read(int, string, uint64, int) ([]shardgate.Message, uint64, error) {
	return nil, 0, errUnreadable
}

// A retry is answered with its record's seq only once the message there
// was read and is the retried send's: a read that fails refuses the retry
// instead of acknowledging it unchecked.
func TestRetryIsNotAnsweredWhenItsMessageCannotBeRead(t *testing.T) {
	st, ctx := openStore(t)
	other := shardgate.Message{Seq: 1, From: "b", ID: "y", Data: json.RawMessage(`2`), TS: 1}
	if err := st.Apply(ctx, []store.Op{
		{Kind: store.OpMessage, Shard: 0, Key: "k", Msg: other},
		{Kind: store.OpIdem, Shard: 0, Key: "k", From: "a", ID: "x", Seq: 1}, // names another send's message
	}); err != nil {
		t.Fatal(err)
	}
	p := newPrimary(&homeDeps{ctx: ctx, store: unreadable{st}, cfg: Config{Now: time.Now}}, 0)
	r := &writeReq{kind: writeSend, key: "k", from: "a", id: "x", data: json.RawMessage(`1`), attempt: "ax"}
	if _, seqs, err := p.assign(shard.Table{}, []*writeReq{r}); !errors.Is(err, errUnreadable) {
		t.Fatalf("assign with an unreadable store = seqs %v, %v; want the read error", seqs, err)
	}
	p.inDoubt.put("ax", "k", 1, time.Now())
	if _, seqs, err := p.assign(shard.Table{}, []*writeReq{r}); !errors.Is(err, errUnreadable) {
		t.Fatalf("assign of an in-doubt retry with an unreadable store = seqs %v, %v; want the read error", seqs, err)
	}
}
