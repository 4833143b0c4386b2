package conn

import (
	"encoding/json"
	"fmt"
	"testing"
)

// A client resuming from before what retention keeps is told where the
// inbox now starts (first_seq in welcome and in history) and gets the
// retained messages from there, then live ones, with nothing in between.
func TestResumeBeforeRetentionGetsFirstSeq(t *testing.T) {
	cases := []struct {
		name      string
		query     string
		floor     uint64 // retention removed seqs 1..floor of 10
		wantFirst float64
		replay    []float64
	}{
		{"nothing removed", "?since=2", 0, 1, []float64{3, 4, 5, 6, 7, 8, 9, 10}},
		{"since before the floor", "?since=2", 6, 7, []float64{7, 8, 9, 10}},
		{"no since, never acked", "", 6, 7, []float64{7, 8, 9, 10}},
		{"since after the floor", "?since=8", 6, 7, []float64{9, 10}},
		{"everything removed", "?since=0", 10, 11, nil},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			key := fmt.Sprintf("alice%d", i)
			h.be.storeN(key, 10)
			h.be.mu.Lock()
			h.be.floor[key] = tc.floor
			h.be.mu.Unlock()
			ws, w := h.raw(t, key, tc.query)
			p := w["params"].(map[string]any)
			if p["first_seq"] != tc.wantFirst || p["last_seq"] != 10.0 {
				t.Fatalf("welcome %v: want first_seq %v, last_seq 10", p, tc.wantFirst)
			}
			// The replay, then a live message right after it.
			if _, err := h.be.Send(ctxT(t), "bob", key, json.RawMessage(`"live"`), ""); err != nil {
				t.Fatal(err)
			}
			want := append(tc.replay, 11)
			objs := notes(t, ws, len(want))
			for i, seq := range want {
				m := objs[i]
				if got := m["params"].(map[string]any)["seq"]; m["method"] != "message" || got != seq {
					t.Fatalf("got %v, want message %v (all: %v)", m, seq, want)
				}
			}
			resp := rpc(t, ws, `{"jsonrpc":"2.0","id":1,"method":"history","params":{"since":0}}`)
			res := resp["result"].(map[string]any)
			if res["first_seq"] != tc.wantFirst || len(res["messages"].([]any)) != 11-int(tc.wantFirst)+1 {
				t.Fatalf("history since 0: %v, want first_seq %v", res, tc.wantFirst)
			}
		})
	}
}
