package app

import (
	"context"
	"encoding/json"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/admin"
	"github.com/shardgate/shardgate/conn"
	"github.com/shardgate/shardgate/internal/inflight"
)

// boundedSends is the admin API's view of the engine with the node's
// in-flight bound on HTTP sends: the same bound the client connections
// take a unit of for each send they admit, so the node's sends in flight
// stay within --node-in-flight whichever door they came in by. A send
// over it is refused at once (HTTP 429).
type boundedSends struct {
	admin.Backend
	node  string
	sends *inflight.Limit
	shed  func()
}

func (b boundedSends) Send(ctx context.Context, from, to string, data json.RawMessage, id string) (shardgate.SendResult, error) {
	size := int64(len(data))
	if !b.sends.Acquire(size) {
		b.shed()
		return shardgate.SendResult{}, conn.NodeOverloaded(b.node, b.sends)
	}
	defer b.sends.Release(size)
	return b.Backend.Send(ctx, from, to, data, id)
}
