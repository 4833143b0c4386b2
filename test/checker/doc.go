// Package checker records what a workload did against a shardgate cluster
// (every send attempt, every acknowledgement, every delivery) and checks the
// guarantees of docs/PROTOCOL.md against the final inboxes: no acknowledged message
// lost, no (sender, id) stored twice, seqs 1..N without gaps, live delivery
// in seq order.
package checker
