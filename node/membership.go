package node

import (
	"context"

	"github.com/shardgate/shardgate/cluster"
)

// Membership is what the engine needs of cluster/.
//
// Concurrency: every method but Events is called from many goroutines at
// once (link handlers, the coordinator, the member, heartbeat and stats
// loops, shard writers through the quorum check) and must be safe for
// that. Members, LocalName, LocalMeta and HealthScore are called on hot
// paths (every write checks quorum) and must not block: answer from
// memory. UpdateMeta may block to gossip the change, bounded by ctx; the
// engine never calls it with a lock of its own held. Events is called
// once, by Start; only the member loop reads the channel, and the channel
// is closed when membership stops. A slow reader must never stall gossip
// (cluster/ queues without blocking). The engine only reads the slice
// Members returns, which may be shared between calls.
type Membership interface {
	LocalName() string
	Members() []cluster.Member
	Events() <-chan cluster.Event
	UpdateMeta(ctx context.Context, fn func(*cluster.Meta)) error
	LocalMeta() cluster.Meta
	HealthScore() int
}
