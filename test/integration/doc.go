// Package integration holds the end-to-end tests of shardgate: whole nodes
// in one process (the in-process tier), real node processes killed with
// SIGKILL (the process tier, files with the `chaos` build tag) and the
// compose tier. What the engine does across nodes (failover, shard moves,
// fencing, gap repair, registry handoff, partitions) is tested without
// sockets on the node test kit (node/nodetest, the node package's tests);
// these tests keep what needs whole nodes on real sockets and processes.
package integration
