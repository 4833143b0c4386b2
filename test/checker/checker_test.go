package checker

import (
	"testing"

	"github.com/shardgate/shardgate"
)

func msg(seq uint64, from, id string) shardgate.Message {
	return shardgate.Message{Seq: seq, From: from, ID: id, Data: []byte(`1`)}
}

func TestCheckerCatchesEachViolation(t *testing.T) {
	cases := []struct {
		name    string
		record  func(r *Recorder)
		inboxes map[string][]shardgate.Message
		check   func(Report) bool
	}{
		{"clean", func(r *Recorder) {
			r.Attempt("b", "a", "1", Acked, 1)
			r.Attempt("b", "a", "2", Unknown, 0)
			r.Delivered("b", 1)
		}, map[string][]shardgate.Message{"b": {msg(1, "a", "1"), msg(2, "a", "2")}},
			func(r Report) bool { return r.OK() && r.Acked == 1 && r.Unknown == 1 }},
		{"lost", func(r *Recorder) { r.Attempt("b", "a", "1", Acked, 1) },
			map[string][]shardgate.Message{"b": {}},
			func(r Report) bool { return r.Lost == 1 && !r.OK() }},
		{"duplicate", func(r *Recorder) { r.Attempt("b", "a", "1", Acked, 1) },
			map[string][]shardgate.Message{"b": {msg(1, "a", "1"), msg(2, "a", "1")}},
			func(r Report) bool { return r.Duplicates == 1 && !r.OK() }},
		{"gap", func(r *Recorder) { r.Attempt("b", "a", "1", Acked, 1); r.Attempt("b", "a", "3", Acked, 3) },
			map[string][]shardgate.Message{"b": {msg(1, "a", "1"), msg(3, "a", "3")}},
			func(r Report) bool { return r.Gaps == 1 && !r.OK() }},
		{"reorder", func(r *Recorder) { r.Delivered("b", 2); r.Delivered("b", 1) }, nil,
			func(r Report) bool { return r.Reordered == 1 && !r.OK() }},
		{"conflict", func(r *Recorder) { r.Attempt("b", "a", "1", Acked, 1); r.Attempt("b", "a", "1", Acked, 2) },
			map[string][]shardgate.Message{"b": {msg(1, "a", "1"), msg(2, "x", "y")}},
			func(r Report) bool { return r.SeqConflicts == 1 && r.Unexplained == 1 }},
		{"wrong seq is lost", func(r *Recorder) { r.Attempt("b", "a", "1", Acked, 2) },
			map[string][]shardgate.Message{"b": {msg(1, "a", "1")}},
			func(r Report) bool { return r.Lost == 1 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRecorder()
			tc.record(r)
			rep := r.Check(tc.inboxes)
			if !tc.check(rep) {
				t.Fatalf("unexpected report:\n%s", rep.Table())
			}
		})
	}
}

func TestLiveCheck(t *testing.T) {
	cases := []struct {
		name   string
		record func(r *Recorder)
		check  func(LiveReport) bool
	}{
		{"clean", func(r *Recorder) {
			r.Attempt("b", "a", "1", Acked, 1)
			r.Attempt("b", "a", "2", Acked, 2)
			r.Delivered("b", 1)
			r.Delivered("b", 2)
		}, func(l LiveReport) bool { return l.OK() && l.Acked == 2 && l.Late == 0 }},
		{"missing", func(r *Recorder) {
			r.Attempt("b", "a", "1", Acked, 1)
			r.Attempt("b", "a", "2", Acked, 2)
			r.Delivered("b", 1)
		}, func(l LiveReport) bool { return l.Missing == 1 && !l.OK() }},
		{"doubled", func(r *Recorder) {
			r.Attempt("b", "a", "1", Acked, 1)
			r.Delivered("b", 1)
			r.Delivered("b", 1)
		}, func(l LiveReport) bool { return l.Doubled == 1 && !l.OK() }},
		{"redelivered after de-duplication", func(r *Recorder) {
			r.Attempt("b", "a", "1", Acked, 1)
			r.Attempt("b", "a", "2", Acked, 2)
			r.Delivered("b", 1)
			r.Delivered("b", 2)
			r.Redelivered("b", 1)
		}, func(l LiveReport) bool { return l.Doubled == 1 && l.OutOfOrder == 0 && l.Missing == 0 && !l.OK() }},
		{"out of order", func(r *Recorder) {
			r.Delivered("b", 2)
			r.Delivered("b", 1)
		}, func(l LiveReport) bool { return l.OutOfOrder == 1 && !l.OK() }},
		{"unwatched keys do not count", func(r *Recorder) {
			r.Attempt("c", "a", "1", Acked, 1)
		}, func(l LiveReport) bool { return l.OK() && l.Acked == 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRecorder()
			r.Watch("b")
			tc.record(r)
			if l := r.LiveCheck(); !tc.check(l) {
				t.Fatalf("unexpected live report: %s", l)
			}
		})
	}
}

func TestRedeliveredStaysOutOfTheOrderCheck(t *testing.T) {
	r := NewRecorder()
	r.Attempt("b", "a", "1", Acked, 1)
	r.Attempt("b", "a", "2", Acked, 2)
	r.Delivered("b", 1)
	r.Delivered("b", 2)
	r.Redelivered("b", 1)
	rep := r.Check(map[string][]shardgate.Message{"b": {{Seq: 1, From: "a", ID: "1"}, {Seq: 2, From: "a", ID: "2"}}})
	if !rep.OK() || rep.Reordered != 0 {
		t.Fatalf("a redelivery after de-duplication changed the stored-history report:\n%s", rep.Table())
	}
}
