package checker

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Live delivery (docs/PROTOCOL.md, Guarantees): a connection that stays open receives every
// message acknowledged to its key, in seq order, once, soon after the ack.
// Watch names the keys that have such a connection, replaying from seq 0,
// for the whole run; LiveCheck compares what each of them received with
// what was acknowledged.

// LiveBound is the delay after an ack within which the message must reach
// an open connection; later arrivals are counted as late.
const LiveBound = time.Second

// Watch marks key as having one connection open from the start of the run
// with a replay from seq 0: every seq acknowledged to key must reach it.
func (r *Recorder) Watch(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.watched == nil {
		r.watched = map[string]*liveConn{}
	}
	r.watched[key] = &liveConn{got: map[uint64]time.Time{}}
}

// Unwatch stops holding key's connection to the live guarantee (it was
// closed on purpose, e.g. its node was drained).
func (r *Recorder) Unwatch(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.watched, key)
}

type liveConn struct {
	got      map[uint64]time.Time // seq → first arrival
	max      uint64
	doubled  int
	outOrder int
}

// Redelivered records a delivery of a seq that key's connection had
// already received (a client that de-duplicates calls it instead of
// Delivered). The Live check counts it as doubled; the order check of
// Delivered, which is about the stream after de-duplication, never sees it.
func (r *Recorder) Redelivered(key string, seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deliveredLocked(key, seq, time.Now())
}

func (r *Recorder) deliveredLocked(key string, seq uint64, at time.Time) {
	lc := r.watched[key]
	if lc == nil {
		return
	}
	if _, ok := lc.got[seq]; ok {
		lc.doubled++
		return
	}
	if seq < lc.max {
		lc.outOrder++
	}
	lc.max = max(lc.max, seq)
	lc.got[seq] = at
}

// LiveReport compares the watched connections with the acknowledgements.
// Missing, Doubled and OutOfOrder are safety figures; Late counts messages
// that arrived more than LiveBound after their ack.
type LiveReport struct {
	Watched    int           `json:"watched_connections"`
	Acked      int           `json:"acked_to_watched"`
	Missing    int           `json:"missing_deliveries"`
	Doubled    int           `json:"doubled_deliveries"`
	OutOfOrder int           `json:"out_of_order_deliveries"`
	Late       int           `json:"late_deliveries"`
	MaxDelay   time.Duration `json:"max_delay_ns"`
	Details    []string      `json:"details,omitempty"`
}

// OK is true when nothing acknowledged is missing, doubled or out of order.
func (l LiveReport) OK() bool { return l.Missing == 0 && l.Doubled == 0 && l.OutOfOrder == 0 }

func (l LiveReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "watched %d connections, %d acked to them: missing %d, doubled %d, out of order %d, late (>%v) %d, max delay %v",
		l.Watched, l.Acked, l.Missing, l.Doubled, l.OutOfOrder, LiveBound, l.Late, l.MaxDelay.Round(time.Millisecond))
	for _, d := range l.Details {
		b.WriteString("\n    - " + d)
	}
	return b.String()
}

// AwaitLive polls LiveCheck until no watched connection lacks a message
// or within has passed, and returns the last report: a message counts as
// missing only once the connections had that long to fill their gaps.
// The caller must have stopped the sends it checks.
func (r *Recorder) AwaitLive(within time.Duration) LiveReport {
	deadline := time.Now().Add(within)
	for {
		rep := r.LiveCheck()
		if rep.Missing == 0 || time.Now().After(deadline) {
			return rep
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TB is the part of testing.TB that ExpectLive reports through.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
}

// ExpectLive is AwaitLive for a test: it logs the report of the phase and
// fails tb when a watched connection lacks a message, has one twice or out
// of order. The caller must have stopped the sends it checks.
func (r *Recorder) ExpectLive(tb TB, phase string, within time.Duration) LiveReport {
	tb.Helper()
	rep := r.AwaitLive(within)
	tb.Logf("live delivery after %s: %s", phase, rep)
	if !rep.OK() {
		tb.Errorf("live delivery after %s violated: %s", phase, rep)
	}
	return rep
}

// LiveCheck reports on every watched connection so far.
func (r *Recorder) LiveCheck() LiveReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := LiveReport{Watched: len(r.watched)}
	detail := func(format string, args ...any) {
		if len(rep.Details) < 20 {
			rep.Details = append(rep.Details, fmt.Sprintf(format, args...))
		}
	}
	keys := make([]string, 0, len(r.watched))
	for k := range r.watched {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	acked := map[string][]*send{}
	for k, s := range r.sends {
		if s.outcome == Acked && r.watched[k.to] != nil {
			acked[k.to] = append(acked[k.to], s)
		}
	}
	for _, key := range keys {
		lc := r.watched[key]
		rep.Doubled += lc.doubled
		rep.OutOfOrder += lc.outOrder
		if lc.doubled+lc.outOrder > 0 {
			detail("%s: %d doubled, %d out of order", key, lc.doubled, lc.outOrder)
		}
		var missing []uint64
		for _, s := range acked[key] {
			rep.Acked++
			at, ok := lc.got[s.seq]
			if !ok {
				missing = append(missing, s.seq)
				continue
			}
			d := at.Sub(s.ackedAt)
			rep.MaxDelay = max(rep.MaxDelay, d)
			if d > LiveBound {
				rep.Late++
			}
		}
		if len(missing) > 0 {
			sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
			rep.Missing += len(missing)
			detail("%s: acked seqs %v never delivered (connection has up to %d)", key, missing, lc.max)
		}
	}
	return rep
}
