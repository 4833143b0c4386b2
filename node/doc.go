// Package node is the engine of a shardgate node: it holds the partition
// table in force, runs the coordinator when this node is the oldest active
// member, serves writes for the shards this node is home of (one writer per
// shard, batching, replication to every backup and pending copy, version
// fencing), applies replicated writes as a backup, copies shards to new
// holders, and keeps the registry of where each key's connections are.
//
// It never speaks HTTP to users: conn/ and admin/ call it through their own
// small interfaces, and it reaches client connections only through the
// Deliverer interface.
package node
