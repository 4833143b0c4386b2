package node

import (
	"context"

	"github.com/shardgate/shardgate/store"
)

// replicaStore is what the replica side needs of store/. It is called by
// link handler goroutines, one batch at a time per shard (the replica
// side's per-shard lock is held), and by the drop loop under the same
// lock. Apply and DropShard block until durable.
type replicaStore interface {
	Apply(ctx context.Context, ops []store.Op) error
	Fence(shard int) (uint64, error)
	HasSeq(shard int, key string, seq uint64) (bool, error)
	LastSeq(shard int, key string) (uint64, error)
	DropShard(shard int) error
}
