package node

import (
	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/store"
)

// replicaStore is what the replica side needs of store/ besides commits
// (which go through the node's disk guard). It is called by link handler
// goroutines, one batch at a time per shard (the replica side's per-shard
// lock is held), and by the drop loop under the same lock. DropShard
// blocks until durable.
type replicaStore interface {
	Fence(shard int) (uint64, error)
	HasSeq(shard int, key string, seq uint64) (bool, error)
	LastSeq(shard int, key string) (uint64, error)
	DropShard(shard int) error
	Marks(shard int, after string, limit int) ([]store.Mark, bool, error)
	History(shard int, key string, since uint64, limit int) (shardgate.HistoryResult, error)
}
