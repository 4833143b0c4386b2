package inflight

import "sync"

// Limit counts units of work and their bytes against two bounds. A nil
// *Limit admits everything. All methods are safe for concurrent use.
type Limit struct {
	maxN, maxBytes int64 // 0: no bound of that kind

	mu       sync.Mutex
	n, bytes int64
}

// New returns a Limit of at most maxN units and maxBytes bytes at once;
// 0 leaves that measure unbounded.
func New(maxN, maxBytes int64) *Limit {
	return &Limit{maxN: maxN, maxBytes: maxBytes}
}

// Acquire takes one unit of size bytes if both bounds allow it and
// reports whether it did; every true must be matched by one Release of the
// same size. A unit larger than the byte bound is admitted when nothing
// else is in flight, so that no single request is refused forever.
func (l *Limit) Acquire(size int64) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxN > 0 && l.n >= l.maxN {
		return false
	}
	if l.maxBytes > 0 && l.n > 0 && l.bytes+size > l.maxBytes {
		return false
	}
	l.n++
	l.bytes += size
	return true
}

// Release gives back one unit taken by Acquire.
func (l *Limit) Release(size int64) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.n--
	l.bytes -= size
	l.mu.Unlock()
}

// InFlight is what is taken now: units and bytes.
func (l *Limit) InFlight() (n, bytes int64) {
	if l == nil {
		return 0, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n, l.bytes
}

// Max is the bounds l was made with (0: unbounded).
func (l *Limit) Max() (n, bytes int64) {
	if l == nil {
		return 0, 0
	}
	return l.maxN, l.maxBytes
}
