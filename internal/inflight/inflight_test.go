package inflight

import (
	"sync"
	"testing"
)

func TestLimitBoundsCountAndBytes(t *testing.T) {
	l := New(3, 100)
	if !l.Acquire(10) || !l.Acquire(10) || !l.Acquire(10) {
		t.Fatal("the first three units within both bounds were refused")
	}
	if l.Acquire(1) {
		t.Fatal("a fourth unit was admitted over a bound of 3")
	}
	l.Release(10)
	if l.Acquire(90) {
		t.Fatal("110 bytes were admitted over a bound of 100")
	}
	if !l.Acquire(80) {
		t.Fatal("100 bytes were refused under a bound of 100")
	}
	if n, b := l.InFlight(); n != 3 || b != 100 {
		t.Fatalf("in flight %d units, %d bytes; want 3, 100", n, b)
	}
}

func TestLimitAdmitsOneOversizedUnitAlone(t *testing.T) {
	l := New(0, 10)
	if !l.Acquire(50) {
		t.Fatal("a lone unit over the byte bound was refused: it could never be admitted")
	}
	if l.Acquire(1) {
		t.Fatal("a second unit was admitted beside one already over the byte bound")
	}
	l.Release(50)
	if n, b := l.InFlight(); n != 0 || b != 0 {
		t.Fatalf("after release: %d units, %d bytes in flight", n, b)
	}
}

func TestNilLimitAdmitsEverything(t *testing.T) {
	var l *Limit
	if !l.Acquire(1 << 40) {
		t.Fatal("a nil limit refused")
	}
	l.Release(1 << 40)
}

// Under contention the bound is never exceeded and everything is given back.
func TestLimitConcurrent(t *testing.T) {
	l := New(8, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	peak := int64(0)
	for range 16 {
		wg.Go(func() {
			for range 500 {
				if !l.Acquire(1) {
					continue
				}
				n, _ := l.InFlight()
				mu.Lock()
				peak = max(peak, n)
				mu.Unlock()
				l.Release(1)
			}
		})
	}
	wg.Wait()
	if peak > 8 {
		t.Fatalf("peak in flight %d over the bound of 8", peak)
	}
	if n, b := l.InFlight(); n != 0 || b != 0 {
		t.Fatalf("after all releases: %d units, %d bytes in flight", n, b)
	}
}
