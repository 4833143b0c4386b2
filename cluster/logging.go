package cluster

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// memberlistLog turns memberlist's "[LEVEL] memberlist: text" lines into
// slog records. After stop it swallows everything: memberlist's goroutines
// may still log after Shutdown returns, and a test's logger must not be
// used once the test is over.
//
// memberlist logs one line per packet it cannot use, so anyone who can
// reach the gossip port could fill the disk with junk packets (several
// MB/s). Lines are therefore limited per kind (their first words): a burst
// of logKindBurst, then one per logKindEvery; the next line let through
// says how many of its kind were dropped.
type memberlistLog struct {
	mu      sync.Mutex
	log     *slog.Logger
	stopped bool
	kinds   map[string]*lineKind
	now     func() time.Time // nil: time.Now
}

type lineKind struct {
	lim     *rate.Limiter
	dropped int
}

const (
	logKindBurst  = 10
	logKindEvery  = 10 // seconds
	logKindPrefix = 32 // bytes of a line that name its kind
	logKindsMax   = 256
)

func (w *memberlistLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return len(p), nil
	}
	level, msg := parseMemberlistLine(string(p))
	k := w.kind(msg)
	now := time.Now
	if w.now != nil {
		now = w.now
	}
	if !k.lim.AllowN(now(), 1) {
		k.dropped++
		return len(p), nil
	}
	if k.dropped > 0 {
		w.log.Log(context.Background(), level, msg, "similar_lines_dropped", k.dropped)
		k.dropped = 0
		return len(p), nil
	}
	w.log.Log(context.Background(), level, msg)
	return len(p), nil
}

// kind is the limiter of msg's kind. Kinds are few (memberlist has a fixed
// set of messages); should they grow past logKindsMax, the map starts over.
func (w *memberlistLog) kind(msg string) *lineKind {
	key := msg[:min(len(msg), logKindPrefix)]
	k := w.kinds[key]
	if k == nil {
		if w.kinds == nil || len(w.kinds) >= logKindsMax {
			w.kinds = make(map[string]*lineKind)
		}
		k = &lineKind{lim: rate.NewLimiter(rate.Limit(1.0/logKindEvery), logKindBurst)}
		w.kinds[key] = k
	}
	return k
}

func (w *memberlistLog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
}

var memberlistLevels = []struct {
	prefix string
	level  slog.Level
}{
	{"[DEBUG]", slog.LevelDebug},
	{"[INFO]", slog.LevelInfo},
	{"[WARN]", slog.LevelWarn},
	{"[ERR]", slog.LevelError},
	{"[ERROR]", slog.LevelError},
}

// parseMemberlistLine splits off the level tag; untagged lines (memberlist
// has a few) count as warnings.
func parseMemberlistLine(s string) (slog.Level, string) {
	s = strings.TrimSpace(s)
	level := slog.LevelWarn
	for _, l := range memberlistLevels {
		if rest, ok := strings.CutPrefix(s, l.prefix); ok {
			level, s = l.level, strings.TrimSpace(rest)
			break
		}
	}
	s = strings.TrimPrefix(s, "memberlist: ")
	return level, s
}
