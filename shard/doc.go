// Package shard decides where every key lives: which shard a key falls in,
// which node owns each shard and which nodes back it up, and how the table in
// force steps toward a newly computed one without ever losing a copy.
//
// Everything here is a pure function of its arguments. The package does no
// I/O, reads no clock, starts no goroutines and holds no process-wide state,
// so every node computes the same answer from the same view and tests can
// work out each owner by hand with an injected hash. Moving data, persisting
// tables and deciding when to act belong to the caller.
//
// The life of a change:
//
//	desired := Assign(activeMembers, cfg)         // where shards should be
//	next := Plan(current, desired, alive, opts)   // one safe step toward it
//	// ...copy shard s to each node in next.Shards[s].Pending...
//	current = Complete(next, s, node)             // that copy is done
//	next = Plan(current, desired, alive, opts)    // cuts over once complete
//
// Plan never makes a node the owner of a shard unless it already holds a
// committed copy, so a failed node's shards go to its backups and a shard
// whose every holder is gone waits for one to return rather than starting
// empty somewhere else.
package shard
