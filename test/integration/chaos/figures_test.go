package main

import (
	"testing"
	"time"
)

// The figures the scorecard prints are computed here; a wrong figure would
// pass or fail runs for the wrong reason, so each is checked by hand.

func TestLongestNoAckCountsTheWindowEdges(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var tl Timeline
	for _, ms := range []int{100, 300, 1300, 1400} {
		i := tl.Begin(at(ms - 50))
		tl.End(i, at(ms), true)
	}
	cases := []struct {
		from, to int
		want     time.Duration
	}{
		{0, 2000, 1000 * time.Millisecond},  // 300 → 1300
		{0, 5000, 3600 * time.Millisecond},  // 1400 → the end of the window
		{1350, 1390, 40 * time.Millisecond}, // no ack inside at all
		{-500, 50, 550 * time.Millisecond},  // the start of the window → its end
	}
	for _, c := range cases {
		if got := tl.LongestNoAck(at(c.from), at(c.to)); got != c.want {
			t.Errorf("LongestNoAck(%d, %d) = %s, want %s", c.from, c.to, got, c.want)
		}
	}
}

func TestLongestWaitTakesSendsOverlappingTheWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var tl Timeline
	a := tl.Begin(at(0))
	tl.End(a, at(5000), true) // spans the window: counts whole
	b := tl.Begin(at(2000))
	tl.End(b, at(2100), false)
	tl.Begin(at(2500)) // still pending: counts up to the window's end
	c := tl.Begin(at(9000))
	tl.End(c, at(20000), true) // after the window: ignored
	if got, want := tl.LongestWait(at(1000), at(4000)), 5*time.Second; got != want {
		t.Errorf("LongestWait = %s, want %s", got, want)
	}
	if got, want := tl.LongestWait(at(6000), at(8000)), 5500*time.Millisecond; got != want {
		t.Errorf("LongestWait of the pending send = %s, want %s", got, want)
	}
}

func TestReceiverSeparatesDoublesFromMisses(t *testing.T) {
	r := &receiver{key: "k"}
	for _, s := range []uint64{1, 2, 2, 4, 5, 5, 7} {
		r.deliver(s)
	}
	if got := r.doubles(); got != 2 {
		t.Errorf("doubles = %d, want 2", got)
	}
	if got := ranges(r.missing(8)); got != "3,6,8" {
		t.Errorf("missing = %s, want 3,6,8", got)
	}
	if got := r.resumeAt(); got != 7 {
		t.Errorf("resumeAt = %d, want 7", got)
	}
}

func TestRanges(t *testing.T) {
	if got := ranges([]uint64{9, 3, 4, 5, 7, 12, 13}); got != "3-5,7,9,12-13" {
		t.Errorf("ranges = %q", got)
	}
	if got := ranges(nil); got != "" {
		t.Errorf("ranges(nil) = %q", got)
	}
}
