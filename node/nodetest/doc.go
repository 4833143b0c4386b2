// Package nodetest runs several engines of package node in one process,
// in the manner of hashicorp/raft's MakeCluster: a Network carries the
// node links in memory (through the same encoding as the real links, with
// rules that cut, cut one way and heal), a Gossip scripts the membership
// (join, leave, fail, metadata updates, partitions of what members see),
// a Deliverer stands in for the client connections and records every
// push, and a Cluster starts, stops, kills and restarts engines with their
// stores in t.TempDir().
//
// Nothing here opens a socket or reads the wall clock on its own, so a
// test may run a whole Cluster inside a testing/synctest bubble: every
// timer of the engines then runs on the bubble's fake clock, and a bound
// such as "refused within one second" is checked in fake time, whatever
// the load of the machine. One limit: a bubble's clock stands still while
// any goroutine waits for a sync.Mutex, and the engine holds a shard's
// batch lock while it waits for a backup. A call that can only end at its
// deadline (Cut, CutOneWay, DropIf) may then stop the clock for good when
// another goroutine wants that lock (a shard copy starting). In a bubble,
// cut links with Refuse and RefuseIf, which fail at once; tests that need
// calls lost in a black hole run on the real clock.
//
// It is for tests only, and uses only the exported API of node: it must
// never reach into the engine's internals.
package nodetest
