package node

import "context"

// Links is what the engine needs of link/: calls to named peers.
//
// Concurrency: every method is called from many goroutines at once (shard
// writers replicating, copies, pushers, the coordinator, link handlers
// forwarding). Call blocks until the peer answers or ctx ends and decodes
// the answer into resp (nil: discard it); errors the peer returned keep
// their shardgate.Kind. Notify only queues the request and may block while
// the peer's queue is full, bounded by ctx. SetPeer and RemovePeer are
// called by Start and the member loop and must not block. QueueDepths is
// called by the stats loop for the link queue gauge: per peer, what is
// queued and not yet written; it must not block.
type Links interface {
	SetPeer(name, addr string)
	RemovePeer(name string)
	Call(ctx context.Context, peer, method string, req, resp any) error
	Notify(ctx context.Context, peer, method string, req any) error
	QueueDepths() map[string]int
}
