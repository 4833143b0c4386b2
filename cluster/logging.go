package cluster

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// memberlistLog turns memberlist's "[LEVEL] memberlist: text" lines into
// slog records. After stop it swallows everything: memberlist's goroutines
// may still log after Shutdown returns, and a test's logger must not be
// used once the test is over.
type memberlistLog struct {
	mu      sync.Mutex
	log     *slog.Logger
	stopped bool
}

func (w *memberlistLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return len(p), nil
	}
	level, msg := parseMemberlistLine(string(p))
	w.log.Log(context.Background(), level, msg)
	return len(p), nil
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
