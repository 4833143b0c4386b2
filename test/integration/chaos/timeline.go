package main

import (
	"sort"
	"sync"
	"time"
)

// Timeline keeps when each logical send started and when (if ever) it was
// acknowledged, so each fault's window can be asked two questions:
//
//   - the longest stretch in which no write at all was acknowledged
//     (cluster-wide unavailability), and
//   - the longest a single write waited for its ack (what one user felt:
//     a third of the keys can be down while the rest keep acking).
type Timeline struct {
	mu    sync.Mutex
	acks  []time.Time // append order is close to time order; sorted on read
	sends []span
}

type span struct {
	start, end time.Time // end zero while pending
	acked      bool
}

// Begin notes a logical send and returns its index for End.
func (t *Timeline) Begin(at time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sends = append(t.sends, span{start: at})
	return len(t.sends) - 1
}

// End closes a send: acked, or given up on.
func (t *Timeline) End(i int, at time.Time, acked bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sends[i].end, t.sends[i].acked = at, acked
	if acked {
		t.acks = append(t.acks, at)
	}
}

// Acks is the number of acknowledged sends so far.
func (t *Timeline) Acks() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.acks)
}

// LongestNoAck is the longest interval inside [from, to] with no ack,
// counting the edges of the window.
func (t *Timeline) LongestNoAck(from, to time.Time) time.Duration {
	t.mu.Lock()
	acks := append([]time.Time(nil), t.acks...)
	t.mu.Unlock()
	sort.Slice(acks, func(i, j int) bool { return acks[i].Before(acks[j]) })
	prev, longest := from, time.Duration(0)
	for _, a := range acks {
		if a.Before(from) {
			continue
		}
		if a.After(to) {
			break
		}
		longest = max(longest, a.Sub(prev))
		prev = a
	}
	return max(longest, to.Sub(prev))
}

// LongestWait is the longest wait of a send that was pending at some point
// inside [from, to]: until its ack or until it was given up, even after
// `to` (the fault caused all of it), or until `to` for one still pending.
func (t *Timeline) LongestWait(from, to time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	longest := time.Duration(0)
	for _, s := range t.sends {
		end := s.end
		if end.IsZero() {
			end = to
		}
		if s.start.After(to) || end.Before(from) {
			continue
		}
		longest = max(longest, end.Sub(s.start))
	}
	return longest
}
