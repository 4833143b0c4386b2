package testutil

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
)

// LogEnv names the environment variable that sets the level of test logs:
// debug, info, warn (the default) or error.
const LogEnv = "SHARDGATE_TEST_LOG"

// Logger returns a logger that writes to the test's output (shown when the
// test fails or with -v) until the test ends and drops anything later:
// goroutines of a closed node may log a last line after Close, and testing
// panics on output after a test is done.
func Logger(tb testing.TB) *slog.Logger {
	w := &guardedWriter{w: tb.Output()}
	tb.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level()}))
}

func level() slog.Level {
	switch strings.ToLower(os.Getenv(LogEnv)) {
	case "debug", "1", "true":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "error":
		return slog.LevelError
	default:
		return slog.LevelWarn
	}
}

type guardedWriter struct {
	mu      sync.Mutex
	w       io.Writer
	stopped bool
}

func (g *guardedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return len(p), nil
	}
	return g.w.Write(p)
}

func (g *guardedWriter) stop() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
}
