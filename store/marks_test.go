package store

import (
	"fmt"
	"testing"
)

func TestMarksListEveryKeyOncePageByPage(t *testing.T) {
	s := MustOpen(t, testConfig(t.TempDir()))
	want := map[string]Mark{}
	for i := range 25 {
		// Keys of different lengths: the store orders them by length
		// first, and paging must follow that order, not the keys'.
		key := fmt.Sprintf("k%0*d", 1+i%4, i)
		n := uint64(1 + i%3)
		for seq := uint64(1); seq <= n; seq++ {
			MustApply(t, s, msgOp(3, key, seq, 1))
		}
		m := Mark{Key: key, Last: n}
		if i%5 == 0 {
			MustApply(t, s, Op{Kind: OpCursor, Shard: 3, Key: key, Seq: 1})
			m.Cursor = 1
		}
		if i%7 == 0 && n > 1 {
			MustApply(t, s, Op{Kind: OpTrim, Shard: 3, Key: key, Seq: 1})
			m.Floor = 1
		}
		want[key] = m
	}
	MustApply(t, s, msgOp(4, "other-shard", 1, 1))

	for _, limit := range []int{1, 4, 25, 0} {
		got := map[string]Mark{}
		after, pages := "", 0
		for {
			marks, more, err := s.Marks(3, after, limit)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, m := range marks {
				if _, dup := got[m.Key]; dup {
					t.Fatalf("limit %d: %q listed twice", limit, m.Key)
				}
				got[m.Key] = m
			}
			if limit > 0 && len(marks) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(marks))
			}
			if !more {
				break
			}
			if len(marks) == 0 || pages > 100 {
				t.Fatalf("limit %d: more with an empty page, or no end", limit)
			}
			after = marks[len(marks)-1].Key
		}
		if len(got) != len(want) {
			t.Fatalf("limit %d: %d keys listed, want %d", limit, len(got), len(want))
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("limit %d: mark of %q = %+v, want %+v", limit, k, got[k], w)
			}
			m, err := s.MarkOf(3, k)
			if err != nil || m != w {
				t.Errorf("MarkOf(%q) = %+v, %v; want %+v", k, m, err, w)
			}
		}
	}

	if marks, more, err := s.Marks(9, "", 0); err != nil || more || len(marks) != 0 {
		t.Errorf("a shard with nothing: %v %v %v", marks, more, err)
	}
	if m, err := s.MarkOf(3, "never"); err != nil || m != (Mark{Key: "never"}) {
		t.Errorf("an unknown key: %+v %v", m, err)
	}
}
