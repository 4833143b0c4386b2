package node

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
)

// The shortcuts taken while no report names anyone must follow the reports
// as they are replaced and forgotten.
func TestLinkHealthReportsAfterReplaceAndForget(t *testing.T) {
	h := newLinkHealth()
	now := time.Unix(1000, 0)
	members := []string{"a", "b", "c", "d"}
	fresh := time.Minute
	count := func() int { return h.reporters("d", "a", members, now, fresh) }

	h.setReport("b", []string{"d"}, now)
	h.setReport("c", nil, now)
	if got := count(); got != 1 {
		t.Fatalf("b names d: %d reporters, want 1", got)
	}
	h.setReport("c", []string{"d"}, now)
	if got := count(); got != 2 {
		t.Fatalf("b and c name d: %d reporters, want 2", got)
	}
	h.setReport("b", nil, now) // b reaches d again
	if got := count(); got != 1 {
		t.Fatalf("only c names d: %d reporters, want 1", got)
	}
	h.forget("c")
	if got := count(); got != 0 {
		t.Fatalf("c forgotten: %d reporters, want 0", got)
	}
	h.setReport("b", []string{"d"}, now)
	h.setReport("c", nil, now)
	h.forget("c") // its report named nobody
	if got := count(); got != 1 {
		t.Fatalf("b names d again: %d reporters, want 1", got)
	}

	// suspect: a fresh cut report naming the peer, followed the same way.
	if h.suspect("d", now, time.Second, fresh) {
		t.Fatal("no cut report yet, d must not be suspect")
	}
	h.setCut("b", []string{"d"}, now)
	h.setCut("c", []string{"d"}, now)
	if !h.suspect("d", now, time.Second, fresh) {
		t.Fatal("b's cut names d: d must be suspect")
	}
	h.setCut("b", nil, now)
	h.forget("c")
	if h.suspect("d", now, time.Second, fresh) {
		t.Fatal("no cut names d any more: d must not be suspect")
	}
	h.setCut("c", []string{"d"}, now)
	h.setCut("b", nil, now)
	h.forget("b") // its cut named nobody
	if !h.suspect("d", now, time.Second, fresh) {
		t.Fatal("c's new cut names d: d must be suspect")
	}
}

// unreachableNow answers for one peer what unreachable lists for all.
func TestUnreachableNowMatchesUnreachable(t *testing.T) {
	h := newLinkHealth()
	t0 := time.Unix(1000, 0)
	h.ok("b", t0)
	h.ok("c", t0.Add(2*time.Second))
	h.seen("d", t0.Add(-time.Second))
	for _, now := range []time.Time{t0, t0.Add(2 * time.Second), t0.Add(4 * time.Second), t0.Add(10 * time.Second)} {
		list := map[string]bool{}
		for _, p := range h.unreachable(now, 3*time.Second) {
			list[p] = true
		}
		for _, p := range []string{"b", "c", "d", "e"} {
			if got := h.unreachableNow(p, now, 3*time.Second); got != list[p] {
				t.Fatalf("at %v, %s: unreachableNow %v, unreachable lists it: %v", now.Sub(t0), p, got, list[p])
			}
		}
	}
}

// quiet, the shortcut of every write's quorum check, holds only while no
// report, cut, tie or stopped call could make the peer link-dead.
func TestLinkHealthQuiet(t *testing.T) {
	h := newLinkHealth()
	t0 := time.Unix(1000, 0)
	fail := 3 * time.Second
	h.ok("d", t0)
	if !h.quiet("d", t0.Add(time.Second), fail) || !h.quiet("e", t0, fail) {
		t.Fatal("nothing reported: d and an unknown peer must be quiet")
	}
	if h.quiet("d", t0.Add(4*time.Second), fail) {
		t.Fatal("calls to d stopped 4 s ago: d must not be quiet")
	}
	h.setReport("b", []string{"x"}, t0)
	if h.quiet("d", t0, fail) {
		t.Fatal("a report names a peer: nothing is quiet until it is weighed")
	}
	h.setReport("b", nil, t0)
	h.setCut("c", []string{"x"}, t0)
	if h.quiet("d", t0, fail) {
		t.Fatal("a cut report names a peer: nothing is quiet until it is weighed")
	}
	h.setCut("c", nil, t0)
	h.mu.Lock()
	h.tied = map[string]bool{"d": true}
	h.mu.Unlock()
	if h.quiet("d", t0, fail) {
		t.Fatal("the tie-break failed d: d must not be quiet until it is undone")
	}
	if !h.quiet("e", t0, fail) {
		t.Fatal("e is not tied and nothing names it: e must be quiet")
	}
}

// A node that sees a majority but stands down as the younger end of a cut
// says so in its refusals and names the elder; one that does not see a
// majority says that.
func TestNoQuorumRefusalNamesItsReason(t *testing.T) {
	n := &Node{name: "n3", log: slog.New(slog.DiscardHandler), health: newLinkHealth()}
	if err := n.noQuorumErr(false); !strings.Contains(err.Error(), "node n3 does not see a majority of the cluster; writes are refused") {
		t.Errorf("without a tie: %v", err)
	}
	n.health.noteTie(n.log, "self", "n1", true)
	for through, want := range map[bool]string{
		false: "node n3 has lost its link to node n1, which still reaches a majority; as the younger end of the cut it refuses writes until the link heals",
		true:  "refuses writes through it until the link heals, try another node",
	} {
		err := n.noQuorumErr(through)
		if shardgate.KindOf(err) != shardgate.KindUnavailable || !strings.Contains(err.Error(), want) {
			t.Errorf("cut from n1 (through %v): %v, want 1003 saying %q", through, err, want)
		}
	}
	n.health.noteTie(n.log, "self", "", false)
	if err := n.noQuorumErr(false); strings.Contains(err.Error(), "younger") {
		t.Errorf("after the tie is over: %v", err)
	}
}
