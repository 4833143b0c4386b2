package store

import (
	"fmt"
	"slices"
	"testing"
)

func TestEventLog(t *testing.T) {
	vals := func(from, to int) [][]byte {
		var out [][]byte
		for i := from; i <= to; i++ {
			out = append(out, []byte(fmt.Sprintf("e%d", i)))
		}
		return out
	}
	type put struct {
		first uint64
		from  int
		to    int
	}
	cases := []struct {
		name      string
		puts      []put
		keep      int
		wantSeqs  []uint64
		wantFirst string
	}{
		{"append", []put{{1, 1, 3}, {4, 4, 5}}, 0, []uint64{1, 2, 3, 4, 5}, "e1"},
		{"a diverged tail is replaced", []put{{1, 1, 5}, {3, 30, 30}}, 0, []uint64{1, 2, 3}, "e1"},
		{"bounded: the oldest go", []put{{1, 1, 5}, {6, 6, 8}}, 4, []uint64{5, 6, 7, 8}, "e5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := MustOpen(t, testConfig(dir))
			for _, p := range tc.puts {
				if err := s.PutEvents(p.first, vals(p.from, p.to), tc.keep); err != nil {
					t.Fatal(err)
				}
			}
			seqs, got, err := s.Events(0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seqs, tc.wantSeqs) || string(got[0]) != tc.wantFirst {
				t.Fatalf("log = %v starting %q, want %v starting %q", seqs, got[0], tc.wantSeqs, tc.wantFirst)
			}
			first, last, err := s.EventBounds()
			if err != nil || first != tc.wantSeqs[0] || last != tc.wantSeqs[len(tc.wantSeqs)-1] {
				t.Fatalf("bounds = %d..%d (%v)", first, last, err)
			}
			seqs, _, _ = s.Events(tc.wantSeqs[0], 2)
			if !slices.Equal(seqs, tc.wantSeqs[1:3]) {
				t.Fatalf("page after %d = %v", tc.wantSeqs[0], seqs)
			}
			// Durable: the log survives a reopen.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = MustOpen(t, testConfig(dir))
			if seqs, _, _ = s.Events(0, 0); !slices.Equal(seqs, tc.wantSeqs) {
				t.Fatalf("after reopen: %v", seqs)
			}
		})
	}
}
