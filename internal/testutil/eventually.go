package testutil

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// Polling starts fast, so that a condition that holds within a millisecond
// costs a millisecond, and backs off to maxPoll so that a long wait does
// not spin on a shared machine.
const (
	firstPoll = time.Millisecond
	maxPoll   = 20 * time.Millisecond
)

// Eventually polls cond until it returns true, and fails the test if it
// has not by the time within has passed. what names the condition in the
// failure message ("bob's connection to close").
func Eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	EventuallyExplained(tb, within, what, func() string {
		if cond() {
			return ""
		}
		return "condition still false"
	})
}

// EventuallyExplained polls cond until it returns "", and fails the test if
// it has not by the time within has passed. cond returns what is still
// missing; the last answer is in the failure message, which saves a second
// run to find out why a wait timed out.
func EventuallyExplained(tb testing.TB, within time.Duration, what string, cond func() string) {
	tb.Helper()
	deadline := time.Now().Add(within)
	wait := firstPoll
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s: %s", within, what, why)
		}
		time.Sleep(wait)
		wait = min(2*wait, maxPoll)
	}
}

// EventuallyGrows waits until counter has grown by n from its value now,
// and fails the test if it has not within; what names what it counts
// ("acknowledged sends").
func EventuallyGrows(tb testing.TB, within time.Duration, counter *atomic.Int64, n int64, what string) {
	tb.Helper()
	target := counter.Load() + n
	Eventually(tb, within, fmt.Sprintf("%d more %s", n, what), func() bool { return counter.Load() >= target })
}
