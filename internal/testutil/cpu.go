//go:build unix

package testutil

import (
	"syscall"
	"testing"
	"time"
)

// ProcessCPU is the user and system CPU time this process has used so far:
// benchmarks report CPU per message from two readings, a figure the
// machine's other tenants disturb far less than a rate.
func ProcessCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
