package node

import "github.com/shardgate/shardgate"

// Deliverer is what the engine needs of the client connections on this node.
//
// Concurrency: its methods are called from many goroutines at once. Deliver
// is called by shard writers right after a commit and by link handlers
// receiving pushes; CatchUp by the reattacher and link handlers;
// DeliverPublication by publishers and link handlers; Moved when a table is
// installed. None of them may block: a writer waits for nothing but its
// store and its copies, so a slow connection must queue, drop or be
// disconnected on its own side. LocalKeys and Connections answer from
// memory. What Deliver hands over for one key may repeat messages or leave
// gaps (a push dropped, a catch-up crossing a push): the connections drop
// what they have and read gaps from history.
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
