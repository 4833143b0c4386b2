package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/cluster"
	"github.com/shardgate/shardgate/metrics"
	"github.com/shardgate/shardgate/shard"
	"github.com/shardgate/shardgate/store"
)

// Node is the engine of one shardgate node. Create it with New, start it
// with Start once the node has joined its cluster, and stop it with Close.
type Node struct {
	cfg   Config
	name  string
	log   *slog.Logger
	st    *store.Store
	mem   Membership
	links Links
	m     *metrics.Metrics
	keys  *shard.Keys // key → shard

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once

	fewCopies     atomic.Int64 // members of the last table warned of having too few for 1+B copies
	backupsDiffer atomic.Int64 // 1 + the table B last warned of differing from --backups

	// The parts. Each owns its state and was given its dependencies as
	// values; none holds the Node. The Node wires them and keeps only the
	// node's own state (below).
	tables   *tables      // the table in force, its persistence and change signal
	coord    *coordinator // plans tables when this node coordinates
	home     *home        // the writers of the shards at home here
	replica  *replicaSet  // fences and gap checks of the shards held as a copy
	conns    *connections // where keys' connections are, and delivery to them
	evlog    *eventLog    // this node's copy of the cluster's event log
	disk     *diskGuard   // refuses writes while the disk is full
	health   *linkHealth  // node links as a failure signal
	interest *interest    // topic interest: ours told to peers, theirs to us
	stats    *statsBook   // the load each node last reported
	events   *bus         // engine events for the dashboard
	mux      *linkMux     // node-link methods, registered by the parts serving them

	rolesMu sync.Mutex
	applied shard.Table // the table applyRoles last acted on

	mu      sync.RWMutex
	state   string
	started bool

	departed departures // how members went away: left or dead
	drainMu  sync.Mutex
	drainEnd context.CancelFunc // ends a drain in progress (readmit)
	gossipMu sync.Mutex         // orders the gossip of failed/readmitted states
	left     chan struct{}
	leftOnce sync.Once
	fetching atomic.Bool
	wsAddrs  sync.Map // member name → public address, for route answers

	memberStates map[string]string // last state seen per member; memberLoop only
}

// New builds an engine around an open store, a membership and node links.
// It does not start goroutines until Start.
func New(cfg Config, st *store.Store, mem Membership, links Links, m *metrics.Metrics) (*Node, error) {
	cfg.fill()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if m == nil {
		m = metrics.New()
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		cfg: cfg, name: cfg.Name, log: cfg.Logger.With("component", "node"),
		st: st, mem: mem, links: links, m: m, keys: shard.NewKeys(cfg.Shard),
		ctx: ctx, cancel: cancel,
		state:  shardgate.StateJoining,
		events: newBus(),
		stats:  newStatsBook(),
		left:   make(chan struct{}),

		departed:     departures{now: cfg.Now},
		memberStates: map[string]string{},
	}
	n.disk = n.newDiskGuard()
	n.health = newLinkHealth()
	links = answeredLinks{Links: links, health: n.health, now: cfg.Now}
	n.links = links
	n.interest = newInterest(interestDeps{name: cfg.Name, ctx: ctx, log: n.log, links: links,
		alive: n.aliveMembers, sent: m.InterestSummariesSent})
	coord, err := newCoordinator(coordDeps{
		name: cfg.Name, cfg: cfg, log: n.log,
		table: n.currentTable, view: n.clusterView, coordinatorName: n.coordinatorName, quorum: n.quorum,
		newerPeer: n.newerPeer, fetchTable: n.fetchTableFrom, publish: n.publishTable,
		shardBytes: n.shardBytes, tellNode: n.tellNode,
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("node: %w", err)
	}
	n.coord = coord
	if n.conns, err = newConnections(connDeps{name: cfg.Name, ctx: ctx, log: n.log, links: links, m: m, store: st,
		shardOf: n.keys.ShardOf, table: n.currentTable, tableChanged: n.tableChanged, routeCall: n.routeCall,
		localRead: n.localRead, goFunc: n.goFunc, pushMsgs: cfg.PushQueueMessages, pushBytes: cfg.PushQueueBytes}); err != nil {
		cancel()
		return nil, fmt.Errorf("node: %w", err)
	}
	hm, err := newHome(homeDeps{
		name: cfg.Name, cfg: cfg, log: n.log, m: m, ctx: ctx, store: st, commitLocal: n.apply, links: links,
		table: n.currentTable, canWrite: n.canWrite, deliver: n.conns.deliverTo, publish: n.events.publish,
		reportCopied: n.reportCopied,
		// The replica side is built next; both run only once Start begins.
		fence:     func(id int) (uint64, error) { return n.replica.fenceOf(id) },
		lockShard: func(id int) func() { return n.replica.lock(id) },
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("node: %w", err)
	}
	n.home = hm
	rs, err := newReplicaSet(replicaDeps{name: cfg.Name, partitions: cfg.Shard.Partitions, store: st, m: m, table: n.currentTable, commitLocal: n.apply})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("node: %w", err)
	}
	n.replica = rs
	evlog, err := newEventLog(st, cfg.EventLogSize)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("node: open event log: %w", err)
	}
	n.evlog = evlog
	n.mux = newLinkMux()
	if err := n.mux.registerAll(slices.Concat(n.linkRoutes(), n.coord.linkRoutes(), n.replica.linkRoutes(), n.conns.linkRoutes(), n.evlog.linkRoutes(), n.interest.linkRoutes())...); err != nil {
		cancel()
		return nil, fmt.Errorf("node: %w", err)
	}
	tbl, err := newTables(cfg.Shard.Partitions, st)
	if err != nil {
		cancel()
		return nil, err
	}
	n.tables = tbl
	return n, nil
}

// SetDeliverer connects the engine to the client connections of this node.
// Call it before Start.
func (n *Node) SetDeliverer(d Deliverer) { n.conns.setDeliverer(d) }

// Name is this node's name.
func (n *Node) Name() string { return n.name }

// Left is closed when this node has been drained and has left the cluster,
// so the process can exit.
func (n *Node) Left() <-chan struct{} { return n.left }

// Start begins serving: it learns the newest table from its peers, starts
// the writers of its shards, the coordinator and the background loops.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.started {
		n.mu.Unlock()
		return errors.New("node: already started")
	}
	n.started = true
	n.mu.Unlock()
	for _, mb := range n.mem.Members() {
		if mb.Name != n.name && mb.Meta.WSAddr != "" {
			n.links.SetPeer(mb.Name, mb.Meta.WSAddr)
			n.wsAddrs.Store(mb.Name, mb.Meta.WSAddr)
		}
	}
	n.syncTable(ctx)
	n.applyRoles()
	t := n.currentTable()
	if n.evlog.lastSeq() < t.EventSeq {
		n.goFunc(func() { n.catchUpEvents("", t.EventSeq) })
	}
	n.setState(ctx, shardgate.StateActive)
	n.goFunc(func() { n.conns.loop(n.ctx) })
	n.goFunc(n.heartbeatLoop)
	n.goFunc(n.memberLoop)
	n.goFunc(func() { n.coord.loop(n.ctx) })
	n.goFunc(n.statsLoop)
	n.goFunc(n.dropLoop)
	n.goFunc(n.interest.loop)
	n.goFunc(n.peersLoop)
	n.goFunc(n.backupCatchUp)
	n.log.Info("node started", "table_version", t.Version, "partitions", n.cfg.Shard.Partitions)
	return nil
}

// goFunc starts a goroutine owned by the node: Close waits for it.
func (n *Node) goFunc(f func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
}

func (n *Node) setState(ctx context.Context, s string) {
	n.mu.Lock()
	n.state = s
	n.mu.Unlock()
	// Gossip carries the states a node gives itself. Failed over is the
	// table's verdict, which every node reads there (isFailed); gossiping
	// it would be refused, and would outlive a readmit in peers' views.
	if s != shardgate.StateFailed {
		if err := n.mem.UpdateMeta(ctx, func(m *cluster.Meta) { m.State = s }); err != nil {
			n.log.Warn("gossip state", "state", s, "err", err)
		}
	}
	n.events.publish(shardgate.Event{Type: "member", At: n.nowMS(), Data: map[string]string{"name": n.name, "state": s}})
}

func (n *Node) currentState() string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.state
}

// Close stops every goroutine of the engine and waits for them. It does not
// drain: call Stop first for a graceful stop.
func (n *Node) Close() error {
	n.closed.Do(func() {
		n.cancel()
		n.home.stopAll()
		n.wg.Wait()
		n.events.close()
	})
	return nil
}

func (n *Node) nowMS() int64 { return n.cfg.Now().UnixMilli() }
