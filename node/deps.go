package node

import (
	"context"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/cluster"
)

// Membership is what the engine needs of cluster/.
type Membership interface {
	LocalName() string
	Members() []cluster.Member
	Events() <-chan cluster.Event
	UpdateMeta(ctx context.Context, fn func(*cluster.Meta)) error
	LocalMeta() cluster.Meta
	HealthScore() int
}

// Links is what the engine needs of link/: calls to named peers.
type Links interface {
	SetPeer(name, addr string)
	RemovePeer(name string)
	Call(ctx context.Context, peer, method string, req, resp any) error
	Notify(ctx context.Context, peer, method string, req any) error
}

// Deliverer is what the engine needs of the client connections on this node.
type Deliverer interface {
	Deliver(key string, msgs []shardgate.Message)
	// CatchUp tells key's local connections that its inbox holds messages
	// up to lastSeq, which they may not have been pushed: they read what
	// they lack from history.
	CatchUp(key string, lastSeq uint64)
	DeliverPublication(p shardgate.Publication) int
	Moved(key, url, reason string)
	LocalKeys() []string
	Connections() int
}

type nopDeliverer struct{}

func (nopDeliverer) Deliver(string, []shardgate.Message)          {}
func (nopDeliverer) CatchUp(string, uint64)                       {}
func (nopDeliverer) DeliverPublication(shardgate.Publication) int { return 0 }
func (nopDeliverer) Moved(string, string, string)                 {}
func (nopDeliverer) LocalKeys() []string                          { return nil }
func (nopDeliverer) Connections() int                             { return 0 }
