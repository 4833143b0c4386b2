// Package bench is the load generator behind `shardgate bench` (docs/PERFORMANCE.md).
//
// It opens many client connections spread over the given nodes, sends at a
// target rate for a duration with open-loop pacing (the schedule does not
// wait for answers, so a slow cluster shows up as latency instead of
// quietly lowering the load), and checks every message end to end: each
// send carries a unique idempotency id and its due time in its data, every
// recipient is one of the bench's own connections, and after a grace period
// the acknowledged (to, seq) pairs are compared with the delivered ones to
// count losses, duplicates and reordering.
//
// Latencies are measured from the moment a send was due, not from when it
// was written: when the generator falls behind, the delay it adds is part
// of what clients would see. A send refused with 1002 (a rate or an
// in-flight bound of the node) is counted as failed and not retried; its
// sender pauses 200 ms before its next send, as a client backing off
// would, so a closed loop over the node's bounds does not turn into a
// loop of refusals.
//
// The package owns its connections and goroutines for the length of one
// Run and leaves none behind. It never talks to a node other than through
// the public client protocol, so it measures what a user would measure.
package bench
