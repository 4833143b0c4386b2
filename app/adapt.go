package app

import (
	"context"

	"github.com/shardgate/shardgate/conn"
	"github.com/shardgate/shardgate/node"
)

// connBackend adapts the engine to conn.Backend: the two packages do not
// import each other, so their Attachment types differ.
type connBackend struct{ *node.Node }

func (b connBackend) Attach(ctx context.Context, key string) (conn.Attachment, error) {
	a, err := b.Node.Attach(ctx, key)
	return conn.Attachment{Node: a.Node, Shard: a.Shard, LastSeq: a.LastSeq}, err
}
