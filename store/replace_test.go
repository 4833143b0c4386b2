package store

import (
	"encoding/json"
	"testing"

	"github.com/shardgate/shardgate"
)

// A message that replaces another send's message at its seq takes the
// replaced message's idempotency record with it; the same message stored
// again keeps its record, and a record naming another seq stays.
func TestReplacedMessageDropsItsRecord(t *testing.T) {
	s := MustOpen(t, testConfig(t.TempDir()))
	msg := func(seq uint64, from, id string) Op {
		return Op{Kind: OpMessage, Shard: 0, Key: "k", Msg: shardgate.Message{Seq: seq, From: from, ID: id, Data: json.RawMessage(`1`), TS: 1}}
	}
	idem := func(seq uint64, from, id string) Op {
		return Op{Kind: OpIdem, Shard: 0, Key: "k", From: from, ID: id, Seq: seq}
	}
	MustApply(t, s, msg(1, "a", "x"), idem(1, "a", "x"), msg(2, "a", "y"), idem(2, "a", "y"))
	MustApply(t, s, idem(2, "a", "y"), msg(2, "a", "y")) // the same message again
	MustApply(t, s, idem(3, "a", "x"))                   // x's record moved on
	MustApply(t, s, msg(2, "b", "z"), idem(2, "b", "z"), msg(3, "b", "w"), msg(1, "c", "v"))
	for _, tt := range []struct {
		from, id string
		seq      uint64
		found    bool
	}{
		{"a", "x", 3, true},  // names seq 3, not the replaced message
		{"a", "y", 0, false}, // its message was replaced by b's z
		{"b", "z", 2, true},
	} {
		seq, found, err := s.Idem(0, "k", tt.from, tt.id)
		if err != nil || seq != tt.seq || found != tt.found {
			t.Errorf("Idem(k, %s, %s) = %d, %v, %v; want %d, %v", tt.from, tt.id, seq, found, err, tt.seq, tt.found)
		}
	}
	checkStats(t, s, 0)
}
