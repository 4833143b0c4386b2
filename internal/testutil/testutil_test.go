package testutil

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a testing.TB whose Fatalf records the message and ends the
// goroutine, as the real one does.
type recorder struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.msg = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

// run calls f with a recorder on its own goroutine and returns the failure
// message ("" when f passed).
func run(t *testing.T, f func(tb testing.TB)) string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msg
}

func TestEventually(t *testing.T) {
	tests := []struct {
		name     string
		trueFrom int // the call from which cond holds; 0: never
		wantFail string
	}{
		{name: "holds at once", trueFrom: 1},
		{name: "holds after some polls", trueFrom: 5},
		{name: "never holds", trueFrom: 0, wantFail: "timed out after 50ms waiting for the thing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			msg := run(t, func(tb testing.TB) {
				Eventually(tb, 50*time.Millisecond, "the thing", func() bool {
					calls++
					return tt.trueFrom > 0 && calls >= tt.trueFrom
				})
			})
			if tt.wantFail == "" && msg != "" {
				t.Fatalf("failed: %s", msg)
			}
			if !strings.Contains(msg, tt.wantFail) {
				t.Fatalf("failure %q does not contain %q", msg, tt.wantFail)
			}
			if tt.trueFrom > 0 && calls != tt.trueFrom {
				t.Fatalf("cond called %d times, want %d", calls, tt.trueFrom)
			}
		})
	}
}

func TestEventuallyExplainedReportsLastReason(t *testing.T) {
	n := 0
	msg := run(t, func(tb testing.TB) {
		EventuallyExplained(tb, 30*time.Millisecond, "three nodes", func() string {
			n++
			return fmt.Sprintf("saw %d", n)
		})
	})
	if want := fmt.Sprintf("waiting for three nodes: saw %d", n); !strings.Contains(msg, want) {
		t.Fatalf("failure %q does not name the last reason %q", msg, want)
	}
}

func TestFreePortNeverTwice(t *testing.T) {
	seen := map[int]bool{}
	for range 100 {
		p := FreePort(t)
		if p <= 0 || p > 65535 {
			t.Fatalf("port %d out of range", p)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
	if a := FreeAddr(t); !strings.HasPrefix(a, "127.0.0.1:") {
		t.Fatalf("FreeAddr = %q", a)
	}
}

// Where the kernel says which ports outgoing connections take, FreePort
// stays below them: a node restarted on its port must not find it taken
// by some connection's local end.
func TestFreePortIsOutsideTheEphemeralRange(t *testing.T) {
	lo, hi, ok := ephemeralRange()
	if !ok {
		t.Skip("no /proc/sys/net/ipv4/ip_local_port_range on this system: FreePort falls back to the kernel's choice")
	}
	for range 50 {
		if p := FreePort(t); p >= lo && p <= hi {
			t.Fatalf("port %d is in the ephemeral range %d-%d", p, lo, hi)
		}
	}
}

func TestLoggerDropsOutputAfterTheTest(t *testing.T) {
	t.Setenv(LogEnv, "debug")
	var kept any
	t.Run("inner", func(t *testing.T) {
		l := Logger(t)
		if !l.Enabled(t.Context(), -4) {
			t.Fatal("debug level not enabled by " + LogEnv + "=debug")
		}
		l.Info("during the test")
		kept = l
	})
	// testing panics on output to a finished test; the logger must not.
	kept.(interface{ Info(string, ...any) }).Info("after the test")
}

func TestLoggerLevel(t *testing.T) {
	tests := []struct {
		env  string
		want string
	}{
		{"", "WARN"}, {"debug", "DEBUG"}, {"info", "INFO"}, {"error", "ERROR"}, {"nonsense", "WARN"},
	}
	for _, tt := range tests {
		t.Setenv(LogEnv, tt.env)
		if got := level().String(); got != tt.want {
			t.Errorf("%s=%q: level %s, want %s", LogEnv, tt.env, got, tt.want)
		}
	}
}
