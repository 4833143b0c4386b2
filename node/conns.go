package node

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/metrics"
	"github.com/shardgate/shardgate/shard"
)

// connections is the engine's part for client connections. On a key's
// home it keeps the registry of the nodes holding connections of the key
// (presence, and where the writer's commits go); on every node it counts
// its own connections per key, feeds the per-peer push queues, and
// re-registers its connections with a key's new home after a move. It
// hands what reaches this node to the Deliverer, the connections
// themselves.
type connections struct {
	connDeps
	registry  *registry    // on a key's home: where its connections are
	local     *localConns  // this node's own connections per key
	pushers   *pushers     // per-peer queues of committed messages
	reattachQ *reattacher  // re-registration after a home change
	deliver   atomic.Value // deliverBox: read on every delivery, set once before Start
}

// deliverBox lets an interface value live in an atomic.Value, whose
// stored type must never change.
type deliverBox struct{ Deliverer }

// connDeps is what the connections part is given; it reaches nothing else.
type connDeps struct {
	name  string
	ctx   context.Context // ends the part's goroutines and its calls
	log   *slog.Logger
	links Links
	m     *metrics.Metrics
	store seqReader
	// shardOf maps a key to its shard; table is the table in force, and
	// tableChanged returns a channel closed at the next change.
	shardOf      func(key string) int
	table        func() shard.Table
	tableChanged func() <-chan struct{}
	// routeCall runs method at the home of shard id: local when that is
	// this node, over the links otherwise (node/route.go).
	routeCall func(ctx context.Context, id int, method string, req, resp any, local func(ctx context.Context) error) error
	// localRead fails unless this node may answer reads of shard id.
	localRead func(id int) error
	// goFunc starts a goroutine that the node waits for at Close.
	goFunc func(func())
	// pushMsgs and pushBytes bound one peer's push queue.
	pushMsgs, pushBytes int
}

// seqReader is what the part reads of the store: where a key's inbox
// starts and ends.
type seqReader interface {
	LastSeq(shard int, key string) (uint64, error)
	FirstSeq(shard int, key string) (uint64, error)
}

func newConnections(d connDeps) (*connections, error) {
	if d.ctx == nil || d.links == nil || d.store == nil || d.shardOf == nil || d.table == nil ||
		d.tableChanged == nil || d.routeCall == nil || d.localRead == nil || d.goFunc == nil {
		return nil, errors.New("connections: a dependency is missing")
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	if d.m == nil {
		d.m = metrics.New()
	}
	c := &connections{connDeps: d, registry: newRegistry(), local: newLocalConns()}
	c.deliver.Store(deliverBox{nopDeliverer{}})
	var err error
	if c.pushers, err = newPushers(pusherDeps{ctx: d.ctx, links: d.links, m: d.m, log: d.log,
		maxMsgs: d.pushMsgs, maxBytes: d.pushBytes, goFunc: d.goFunc}); err != nil {
		return nil, err
	}
	if c.reattachQ, err = newReattacher(reattachDeps{log: d.log, tableChanged: d.tableChanged, reattach: c.reattach}); err != nil {
		return nil, err
	}
	return c, nil
}

// setDeliverer connects the part to this node's client connections.
func (c *connections) setDeliverer(d Deliverer) {
	if d == nil {
		d = nopDeliverer{}
	}
	c.deliver.Store(deliverBox{d})
}

func (c *connections) deliverer() Deliverer { return c.deliver.Load().(deliverBox).Deliverer }

// loop re-registers connections after home changes until ctx ends.
func (c *connections) loop(ctx context.Context) { c.reattachQ.loop(ctx) }

// attach registers one more local connection of key with key's home.
func (c *connections) attach(ctx context.Context, key string) (shardgate.Attachment, error) {
	if err := shardgate.ValidKey(key); err != nil {
		return shardgate.Attachment{}, err
	}
	count := c.local.add(key, 1)
	res, err := c.attachAtHome(ctx, key, count)
	if err != nil {
		c.local.add(key, -1)
		c.reattachQ.mark(key) // the home may have taken the count before the call failed
		return shardgate.Attachment{}, err
	}
	c.reportAgainIfChanged(key, count)
	return shardgate.Attachment{Node: c.name, Shard: c.shardOf(key), LastSeq: res.LastSeq, FirstSeq: max(res.FirstSeq, 1)}, nil
}

// attachAtHome tells key's home that this node holds count connections of
// key, and learns where the key's inbox starts and ends.
func (c *connections) attachAtHome(ctx context.Context, key string, count int) (attachResp, error) {
	req := attachReq{Key: key, Node: c.name, Count: count}
	var res attachResp
	err := c.routeCall(ctx, c.shardOf(key), methodAttach, req, &res, func(context.Context) error {
		var err error
		res, err = c.localAttach(req)
		return err
	})
	return res, err
}

func (c *connections) localAttach(r attachReq) (attachResp, error) {
	id := c.shardOf(r.Key)
	if err := c.localRead(id); err != nil {
		return attachResp{}, err
	}
	c.registry.set(r.Key, r.Node, r.Count)
	last, err := c.store.LastSeq(id, r.Key)
	if err != nil {
		return attachResp{}, err
	}
	first, err := c.store.FirstSeq(id, r.Key)
	return attachResp{Shard: id, LastSeq: last, FirstSeq: first}, err
}

// detach undoes one attach. It does not wait: presence catches up. A
// report that fails is left to the reattacher, which retries until one
// lands.
func (c *connections) detach(key string) {
	count := c.local.add(key, -1)
	c.goFunc(func() {
		ctx, cancel := context.WithTimeout(c.ctx, 3*time.Second)
		defer cancel()
		if _, err := c.attachAtHome(ctx, key, count); err != nil {
			c.reattachQ.mark(key)
			return
		}
		c.reportAgainIfChanged(key, count)
	})
}

// reportAgainIfChanged queues key for another report when its count
// changed while a report of count was on its way. Each report carries the
// absolute count, and concurrent reports may reach the home in any order:
// the one that lands last may be stale (30 connections closed at once left
// a home counting 29). The sender of every report looks again once it has
// landed, so the last report to land is always a current one.
func (c *connections) reportAgainIfChanged(key string, count int) {
	if c.local.count(key) != count {
		c.reattachQ.mark(key)
	}
}

// deliverTo hands committed messages to every node with connections of key:
// local connections at once (that never blocks), other nodes through their
// push queues.
func (c *connections) deliverTo(key string, msgs []shardgate.Message) {
	for _, node := range c.registry.nodes(key) {
		if node == c.name {
			c.deliverer().Deliver(key, msgs)
			continue
		}
		c.pushers.push(node, key, msgs)
	}
}

// presence is what the home knows of key's connections.
func (c *connections) presence(key string) shardgate.Presence {
	n := c.registry.count(key)
	return shardgate.Presence{Online: n > 0, Connections: n}
}

// reattach registers this node's connections of key with key's home and
// has them catch up with what the home stored before it knew of them.
// A count of 0 tells the home that the last of them closed.
func (c *connections) reattach(key string) error {
	count := c.local.count(key)
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	res, err := c.attachAtHome(ctx, key, count)
	if err != nil {
		return err
	}
	if count > 0 {
		c.deliverer().CatchUp(key, res.LastSeq)
	}
	c.reportAgainIfChanged(key, count)
	return nil
}

// reattachAll re-registers every local connection with its key's home:
// home forgot this node's connections (it saw this node fail, which
// failure detection may do to a node that is only slow) and asked for them
// again. All of them, not only those this node's table homes on the asker:
// around a failover the two tables may differ, and a key the asker is home
// of by its table but not by this node's would stay unregistered there,
// its new messages pushed nowhere. Registering a key again is harmless, and
// each goes to its home as this node's table says.
func (c *connections) reattachAll() {
	for key := range c.local.snapshot() {
		c.reattachQ.mark(key)
	}
}

// askReattach asks peer, which this node has just seen come back, to
// register its connections again: the registry dropped them when the peer
// was seen failing.
func (c *connections) askReattach(peer string) {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	if err := c.links.Notify(ctx, peer, methodReattach, struct{}{}); err != nil {
		c.log.Debug("ask to re-register connections", "peer", peer, "err", err)
	}
}

// memberJoined forgets what the registry held for a node that (re)joins,
// which may be a new process with no connections or the same one that
// failure detection gave up on for a while, and asks it for the
// connections it still holds.
func (c *connections) memberJoined(name string) {
	c.registry.dropNode(name)
	c.goFunc(func() { c.askReattach(name) })
}

// memberGone forgets a node that left or failed: its connections and the
// messages queued for it.
func (c *connections) memberGone(name string) {
	c.registry.dropNode(name)
	c.pushers.drop(name)
}

// tableInstalled follows a table change: this node's connections whose key
// changed home are registered with the new home (see reattacher), and
// moved is called for each of them whose new home is another node, so
// the connections can be told. The registry keeps only keys homed here.
func (c *connections) tableInstalled(old, t shard.Table, moved func(key string, from, to string)) {
	if len(t.Shards) == 0 {
		// No table yet (a node starting before its cluster has one):
		// nothing is homed anywhere, and a client may already be
		// connected; indexing the empty table would panic.
		return
	}
	if len(old.Shards) == len(t.Shards) {
		for key := range c.local.snapshot() {
			id := c.shardOf(key)
			from, to := old.Shards[id].Owner, t.Shards[id].Owner
			if from == to || to == "" {
				continue
			}
			c.reattachQ.mark(key)
			if to != c.name {
				moved(key, from, to)
			}
		}
	}
	c.registry.prune(func(key string) bool { return t.Shards[c.shardOf(key)].Owner == c.name })
}

// linkRoutes are the node-link methods this part serves: registrations
// of connections at a key's home, pushes and catch-up hints to this
// node's connections, requests to register again, and publications.
func (c *connections) linkRoutes() []linkRoute {
	return []linkRoute{
		{methodAttach, typed(func(_ context.Context, _ string, r attachReq) (any, error) { return c.localAttach(r) })},
		{methodDeliver, typed(func(_ context.Context, _ string, r deliverMsg) (any, error) {
			if len(r.Msgs) > 0 {
				c.deliverer().Deliver(r.Key, r.Msgs)
			}
			if r.LastSeq > 0 {
				c.deliverer().CatchUp(r.Key, r.LastSeq)
			}
			return struct{}{}, nil
		})},
		{methodReattach, func(_ context.Context, _ string, _ json.RawMessage) (any, error) {
			c.reattachAll()
			return struct{}{}, nil
		}},
		{methodPublish, typed(func(_ context.Context, _ string, r publication) (any, error) {
			return c.deliverer().DeliverPublication(shardgate.Publication(r)), nil
		})},
	}
}
