package node

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/link/wire"
	"github.com/shardgate/shardgate/store"
)

func wireMsg(seq uint64) shardgate.Message {
	return shardgate.Message{Seq: seq, From: "alice", Data: json.RawMessage(`{"text":"hi <&>"}`), TS: 1764590000000, ID: "m1"}
}

// wireSamples are values of every type with a binary form, with every
// field set somewhere.
func wireSamples() []wire.Appender {
	return []wire.Appender{
		replicateReq{Shard: 270, Version: 12, Pending: true, Ops: []store.Op{
			{Kind: store.OpMessage, Shard: 270, Key: "bob", Msg: wireMsg(3)},
			{Kind: store.OpIdem, Shard: 270, Key: "bob", Seq: 3, From: "alice", ID: "m1"},
			{Kind: store.OpFence, Shard: 270, Version: 12},
		}},
		replicateReq{},
		replicateResp{Gaps: []gap{{Key: "bob", Have: 2}}},
		replicateResp{},
		deliverMsg{Key: "bob", Msgs: []shardgate.Message{wireMsg(1), wireMsg(2)}},
		deliverMsg{Key: "bob", LastSeq: 9},
		sendReq{From: "alice", To: "bob", Data: json.RawMessage(`[1,"x"]`), ID: "i", Attempt: "a", WaitMS: 1500},
		sendResult{To: "bob", Seq: 7},
		publication{Topic: "news", From: "alice", Data: json.RawMessage(`"x"`), TS: -1},
		interestMsg{Epoch: 1764590000000000000, Version: 3, Topics: []string{"news", "sport"}},
		interestMsg{Epoch: 1, Version: 4, All: true},
	}
}

// decodeAs decodes body into a fresh value of the type of like.
func decodeAs(like wire.Appender, body []byte) (wire.Appender, error) {
	p := reflect.New(reflect.TypeOf(like))
	err := wire.Decode(body, p.Interface())
	return p.Elem().Interface().(wire.Appender), err
}

// Every binary form reads back as what was written, and as what the JSON
// form reads back as (the two codecs carry the same values).
func TestWireRoundTrip(t *testing.T) {
	for _, v := range wireSamples() {
		got, err := decodeAs(v, wire.Append(nil, v))
		if err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		js, err := shardgate.MarshalJSON(v)
		if err != nil {
			t.Fatal(err)
		}
		viaJSON, err := decodeAs(v, js)
		if err != nil {
			t.Fatalf("%T from JSON: %v", v, err)
		}
		if !reflect.DeepEqual(got, v) && !reflect.DeepEqual(got, viaJSON) {
			t.Errorf("%T round trip:\n got %+v\nwant %+v", v, got, v)
		}
	}
}

// FuzzWireBodies: no body makes a decoder panic or allocate past its
// bounds, and what a decoder accepts survives re-encoding unchanged. The
// first byte of the input picks the type.
func FuzzWireBodies(f *testing.F) {
	samples := wireSamples()
	for i, v := range samples {
		f.Add(byte(i), wire.Append(nil, v))
	}
	f.Add(byte(0), []byte{wire.Marker, tagReplicateReq, 1, 1, 0, 0xff, 0xff, 0xff, 0x7f})
	f.Add(byte(4), []byte{wire.Marker, tagDeliverMsg, 1, 'k', 0, 1, 1, 0, 3, '{', '}', '!', 0, 0})
	f.Fuzz(func(t *testing.T, pick byte, body []byte) {
		like := samples[int(pick)%len(samples)]
		v, err := decodeAs(like, body)
		if err != nil || !wire.IsBinary(body) {
			return
		}
		again, err := decodeAs(like, wire.Append(nil, v))
		if err != nil {
			t.Fatalf("%T: re-encoded %+v rejected: %v", v, v, err)
		}
		if !reflect.DeepEqual(v, again) {
			t.Fatalf("%T round trip changed\n%+v into\n%+v", v, v, again)
		}
	})
}
