package bench

import (
	"sync"
	"sync/atomic"
	"time"
)

// One byte per message of a recipient's inbox says what the bench saw of
// it. Seqs of a key are dense (1, 2, 3, …), so a slice indexed by seq is
// both the smallest and the fastest record: a million messages cost 1 MB.
const (
	markAcked  uint8 = 0x80
	markWarmup uint8 = 0x40
	markCount  uint8 = 0x3f // deliveries seen, saturating
)

// inbox tracks what was acknowledged and delivered for one recipient key.
type inbox struct {
	mu    sync.Mutex
	base  uint64  // the key's last seq before the run: older ones are not ours
	marks []uint8 // marks[i] is about seq base+1+i
	last  uint64  // highest seq delivered so far, to notice reordering
}

// counters are the running totals shown while the run goes on, warm-up
// included (the report splits the phases from the marks). pending
// (acknowledged but not yet delivered) tells the grace period when it can
// end early.
type counters struct {
	sent, sentWarm       atomic.Int64
	acked, delivered     atomic.Int64
	errors, retries      atomic.Int64
	failed, reconnects   atomic.Int64
	duplicates, reorders atomic.Int64
	conflicts, foreign   atomic.Int64
	pending, inflight    atomic.Int64
	// lastAck and lastDelivery are when the latest measured message was
	// acknowledged and delivered (Unix ns): a cluster that falls behind
	// keeps answering after the schedule ends, and rates must count that.
	lastAck, lastDelivery atomic.Int64
}

// stamp raises a to now, never lowering it.
func stamp(a *atomic.Int64, now time.Time) {
	t := now.UnixNano()
	for v := a.Load(); t > v && !a.CompareAndSwap(v, t); v = a.Load() {
	}
}

// slot returns the mark of seq, growing the slice; nil for a seq from
// before the run. Called with mu held.
func (b *inbox) slot(seq uint64) *uint8 {
	if seq <= b.base {
		return nil
	}
	i := seq - b.base - 1
	if i >= uint64(len(b.marks)) {
		if i >= uint64(cap(b.marks)) {
			grown := make([]uint8, i+1, 2*i+64)
			copy(grown, b.marks)
			b.marks = grown
		}
		b.marks = b.marks[:i+1]
	}
	return &b.marks[i]
}

// acked records that a send was acknowledged with seq.
func (b *inbox) acked(seq uint64, warm bool, c *counters) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.slot(seq)
	switch {
	case m == nil:
		c.foreign.Add(1)
		return
	case *m&markAcked != 0:
		// Two different sends got the same seq: one of them cannot be in
		// the inbox.
		c.conflicts.Add(1)
		return
	}
	*m |= markAcked
	if warm {
		*m |= markWarmup
	}
	if *m&markCount == 0 {
		c.pending.Add(1)
	}
	c.acked.Add(1)
}

// delivered records a delivery of seq and reports whether it was the first.
func (b *inbox) delivered(seq uint64, warm bool, c *counters) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.slot(seq)
	if m == nil {
		c.foreign.Add(1)
		return false
	}
	if warm {
		*m |= markWarmup
	}
	n := *m & markCount
	if n < markCount {
		*m++
	}
	if n > 0 {
		c.duplicates.Add(1)
		return false
	}
	if seq < b.last {
		c.reorders.Add(1)
	}
	b.last = max(b.last, seq)
	if *m&markAcked != 0 {
		c.pending.Add(-1)
	}
	c.delivered.Add(1)
	return true
}

// tally is the final count over one phase (measured or warm-up).
type tally struct {
	Acked, Delivered, Lost, Duplicated, DeliveredUnacked int64
}

// count adds this inbox's marks to the measured and warm-up tallies.
func (b *inbox) count(measured, warm *tally) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.marks {
		t := measured
		if m&markWarmup != 0 {
			t = warm
		}
		acked, n := m&markAcked != 0, m&markCount
		if acked {
			t.Acked++
		}
		if n > 0 {
			t.Delivered++
		}
		if n > 1 {
			t.Duplicated++
		}
		switch {
		case acked && n == 0:
			t.Lost++
		case !acked && n > 0:
			t.DeliveredUnacked++
		}
	}
}
