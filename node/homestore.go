package node

import (
	"context"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/store"
)

// homeStore is what the shard home needs of store/. Apply is called by a
// shard's writer goroutine, one batch at a time per shard, and blocks until
// the batch is durable (group commit: many shards share one fsync).
// Snapshot is called by a copy goroutine and calls fn on that goroutine;
// it holds a read transaction open meanwhile. The reads are called by the
// writer goroutine and never block on a writer.
type homeStore interface {
	Apply(ctx context.Context, ops []store.Op) error
	Idem(shard int, to, from, id string) (seq uint64, found bool, err error)
	Read(shard int, key string, since uint64, limit int) ([]shardgate.Message, uint64, error)
	LastSeq(shard int, key string) (uint64, error)
	MarkOf(shard int, key string) (store.Mark, error)
	ShardStats(shard int) (messages, bytes int64)
	Snapshot(ctx context.Context, shard int, chunkBytes int, fn func([]store.Op) error) error
}
