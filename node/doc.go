// Package node is the engine of a shardgate node. Node is a thin assembly
// of parts, each owning its state and given its dependencies as values
// (functions and small interfaces), none holding the Node:
//
//   - tables: the partition table in force, persisted before it takes
//     effect (outside the lock its readers take), and its change signal;
//   - coordinator: turns membership into tables when this node is the
//     oldest active member; the planning step itself is nextTable, a pure
//     function of the table, a snapshot of the cluster view, the operator
//     state and the copies reported complete;
//   - home: one writer per shard at home here (batching, sequence numbers,
//     idempotency, replication to every backup and pending copy, copies to
//     new holders);
//   - replicaSet: the shards held as a backup or copy (version fencing,
//     gap reports);
//   - connections: where each key's connections are (the registry on its
//     home, this node's own counts), pushes of committed messages to the
//     nodes holding them, re-registration after a home change, and the
//     Deliverer that reaches this node's connections;
//   - eventLog, diskGuard, linkHealth, statsBook: the event log, the
//     disk-full state, node links as a failure signal, peers' load.
//
// Node-link methods are registered by the part that serves them (linkMux).
// The interfaces the engine needs of its surroundings (Membership, Links,
// Deliverer, and the store views of each part) each sit in their own file
// with their concurrency contract.
//
// It never speaks HTTP to users: conn/ and admin/ call it through their own
// small interfaces, and it reaches client connections only through the
// Deliverer interface.
package node
