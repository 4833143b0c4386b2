package link

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/link/wire"
)

// batch is a request with a binary form, shaped like the pushes and
// replication batches nodes send: a key and a list of messages.
type batch struct {
	Key  string     `json:"key"`
	Msgs []batchMsg `json:"msgs"`
}

type batchMsg struct {
	Seq  uint64          `json:"seq"`
	From string          `json:"from"`
	Data json.RawMessage `json:"data"`
	TS   int64           `json:"ts"`
}

func (batch) LinkTag() byte { return 200 }

func (b batch) AppendLink(dst []byte) []byte {
	dst = wire.AppendString(dst, b.Key)
	dst = wire.AppendUvarint(dst, uint64(len(b.Msgs)))
	for _, m := range b.Msgs {
		dst = wire.AppendUvarint(dst, m.Seq)
		dst = wire.AppendString(dst, m.From)
		dst = wire.AppendBytes(dst, m.Data)
		dst = wire.AppendVarint(dst, m.TS)
	}
	return dst
}

func (b *batch) DecodeLink(r *wire.Reader) {
	b.Key = r.String(256)
	b.Msgs = make([]batchMsg, r.Count(1024, 4))
	for i := range b.Msgs {
		b.Msgs[i] = batchMsg{Seq: r.Uvarint(), From: r.String(256), Data: r.JSON(1 << 20), TS: r.Varint()}
	}
}

func testBatch(n int) batch {
	b := batch{Key: "bob"}
	for i := range n {
		b.Msgs = append(b.Msgs, batchMsg{Seq: uint64(i + 1), From: "alice", Data: json.RawMessage(`{"text":"hello, bob","n":[1,2,3]}`), TS: 1764590000000 + int64(i)})
	}
	return b
}

// batchHandler decodes a batch (either form) and answers it back.
var batchHandler = HandlerFunc(func(_ context.Context, _, method string, body json.RawMessage) (any, error) {
	var b batch
	if err := wire.Decode(body, &b); err != nil {
		return nil, err
	}
	return b, nil
})

// Nodes agree on the binary codec when both speak it, and fall back to
// JSON when one of them predates it, whichever side dials; calls with
// binary bodies work either way.
func TestCodecNegotiation(t *testing.T) {
	for _, tc := range []struct {
		name         string
		dialer, acc  int32
		wantOut, wIn int32
	}{
		{"both new", codecBinary, codecBinary, codecBinary, codecBinary},
		{"old dialer", codecJSON, codecBinary, codecJSON, codecJSON},
		{"old acceptor", codecBinary, codecJSON, codecJSON, codecJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := mustNode(t, "a", batchHandler, nil)
			b := mustNode(t, "b", batchHandler, nil)
			a.m.codec.Store(tc.dialer)
			b.m.codec.Store(tc.acc)
			link(a, b)
			ctx := ctxTimeout(t, 10*time.Second)
			want := testBatch(3)
			var got batch
			if err := a.m.Call(ctx, "b", "batch", want, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip: got %+v, want %+v", got, want)
			}
			if c := connOf(t, a.m, "b"); c.codec != tc.wantOut {
				t.Fatalf("dialer writes codec %d, want %d", c.codec, tc.wantOut)
			}
			if c := inboundOf(t, b.m, "a"); c.codec != tc.wIn {
				t.Fatalf("acceptor writes codec %d, want %d", c.codec, tc.wIn)
			}
			// JSON bodies and errors cross either codec too.
			if err := a.m.Call(ctx, "b", "batch", "not a batch", nil); err == nil || !strings.Contains(err.Error(), "cannot unmarshal string") {
				t.Fatalf("a JSON body the handler cannot read: %v", err)
			}
			if err := b.m.Call(ctx, "a", "batch", want, &got); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("the other way: %+v %v", got, err)
			}
		})
	}
}

func TestPickCodec(t *testing.T) {
	for offer, want := range map[string]int32{"": 1, "1": 1, "1,2": 2, "2": 2, " 2 , 1": 2, "1,2,3": 2, "x,y": 1, "3": 1} {
		if got := pickCodec(offer, codecBinary); got != want {
			t.Errorf("pickCodec(%q) = %d, want %d", offer, got, want)
		}
	}
	if got := pickCodec("1,2", codecJSON); got != codecJSON {
		t.Errorf("a node limited to JSON picked %d", got)
	}
}

// binFrame builds a version 2 frame from encoded envelopes.
func binFrame(envs ...[]byte) []byte {
	b := []byte{codecBinary}
	for _, e := range envs {
		b = binary.AppendUvarint(b, uint64(len(e)))
		b = append(b, e...)
	}
	return b
}

func TestDecodeBinFrame(t *testing.T) {
	req := append(appendRequestBin(nil, 1, "send"), `{"to":"bob"}`...)
	note := appendRequestBin(nil, 0, "note")
	res := append(appendResultBin(nil, 2), wire.Append(nil, testBatch(1))...)
	errEnv := appendErrorBin(nil, 3, wireError{Kind: "unavailable", Message: "moving"})
	envs, err := decodeBinFrame(binFrame(req, note, res, errEnv))
	if err != nil || len(envs) != 4 {
		t.Fatalf("decodeBinFrame: %+v %v", envs, err)
	}
	for i, e := range envs {
		if e.bad != nil {
			t.Fatalf("envelope %d bad: %v", i, e.bad)
		}
	}
	if envs[0].M != "send" || string(envs[0].B) != `{"to":"bob"}` || string(envs[1].B) != "null" ||
		!wire.IsBinary(envs[2].R) || envs[3].E.Message != "moving" {
		t.Fatalf("decoded: %+v", envs)
	}
	for _, in := range [][]byte{nil, {1}, []byte(`[]`), {3, 0}} {
		if _, err := decodeBinFrame(in); err == nil {
			t.Errorf("decodeBinFrame(%q) accepted a frame of another version", in)
		}
	}

	// A bad envelope spoils only itself.
	deep := strings.Repeat("[", maxBodyDepth+1) + strings.Repeat("]", maxBodyDepth+1)
	bad := []struct {
		env    []byte
		id     uint64
		method string
	}{
		{nil, 0, ""},
		{[]byte{9, 1}, 1, ""},
		{[]byte{kindRequest}, 0, ""},
		{[]byte{kindRequest, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 0, ""},
		{appendRequestBin(nil, 4, ""), 4, ""},
		{append(appendRequestBin(nil, 5, "send"), deep...), 5, "send"},
		{append(appendResultBin(nil, 6), deep...), 6, ""},
		{appendResultBin(nil, 0), 0, ""},
		{append([]byte{kindRequest, 7}, 0xc8, 0x01, 'x'), 7, ""}, // method of 200 bytes, 1 present
		{append([]byte{kindRequest, 8}, 0x81, 0x02), 8, ""},      // method over its limit
		{append(appendErrorBin(nil, 9, wireError{Kind: "x", Message: "y"}), 0), 9, ""},
		{appendErrorBin(nil, 0, wireError{Kind: "x"}), 0, ""},
	}
	for _, tc := range bad {
		envs, err := decodeBinFrame(binFrame(appendResultBin(nil, 40), tc.env, appendRequestBin(nil, 41, "after")))
		if err != nil || len(envs) != 3 {
			t.Errorf("decodeBinFrame(%x): %d envelopes, %v; want 3", tc.env, len(envs), err)
			continue
		}
		if envs[0].bad != nil || envs[0].I != 40 || envs[2].bad != nil || envs[2].M != "after" {
			t.Errorf("decodeBinFrame(%x): the good neighbours were spoilt: %+v %+v", tc.env, envs[0], envs[2])
		}
		if e := envs[1]; e.bad == nil || e.I != tc.id || e.M != tc.method {
			t.Errorf("decodeBinFrame(%x) = id %d method %q bad %v; want id %d method %q, bad", tc.env, e.I, e.M, e.bad, tc.id, tc.method)
		}
	}
	// A length that runs past the frame: what came before is kept.
	cut := binFrame(appendResultBin(nil, 1))
	cut = append(cut, 50, kindResult, 2)
	envs, err = decodeBinFrame(cut)
	if err != nil || len(envs) != 2 || envs[0].bad != nil || envs[1].bad == nil {
		t.Errorf("truncated frame: %+v %v", envs, err)
	}
}

// encodeBin is the inverse of decodeBinEnvelope for an accepted envelope.
func (e *envelope) encodeBin() []byte {
	switch {
	case e.M != "":
		return append(appendRequestBin(nil, e.I, e.M), e.B...)
	case e.E != nil:
		return appendErrorBin(nil, e.I, *e.E)
	default:
		return append(appendResultBin(nil, e.I), e.R...)
	}
}

// FuzzDecodeBinFrame: the decoder never panics, and whatever it accepts
// survives re-encoding unchanged.
func FuzzDecodeBinFrame(f *testing.F) {
	f.Add(binFrame(append(appendRequestBin(nil, 1, "send"), `{"to":"bob"}`...), appendRequestBin(nil, 0, "note")))
	f.Add(binFrame(append(appendResultBin(nil, 2), wire.Append(nil, testBatch(2))...), appendErrorBin(nil, 3, wireError{Kind: "conflict", Message: "no"})))
	f.Add(binFrame(nil, []byte{kindRequest, 1, 0xc8}, append(appendResultBin(nil, 4), "[[[["...)))
	f.Add([]byte{codecBinary, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		all, err := decodeBinFrame(data)
		if err != nil {
			return
		}
		var good [][]byte
		var envs []envelope
		for _, e := range all {
			if e.bad == nil {
				good = append(good, e.encodeBin())
				envs = append(envs, e)
			}
		}
		again, err := decodeBinFrame(binFrame(good...))
		if err != nil {
			t.Fatalf("re-encoded frame rejected: %v", err)
		}
		for _, e := range again {
			if e.bad != nil {
				t.Fatalf("re-encoded frame holds a bad envelope: %v", e.bad)
			}
		}
		if len(envs) != len(again) {
			t.Fatalf("round trip: %d envelopes, then %d", len(envs), len(again))
		}
		for i := range envs {
			x, y := envs[i], again[i]
			if x.I != y.I || x.M != y.M || !bytes.Equal(x.B, y.B) || !bytes.Equal(x.R, y.R) || !reflect.DeepEqual(x.E, y.E) {
				t.Fatalf("round trip changed envelope %d:\n%#v\n%#v", i, x, y)
			}
		}
	})
}
