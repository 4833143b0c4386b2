package nodetest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/cluster"
	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/metrics"
	"github.com/shardgate/shardgate/node"
	"github.com/shardgate/shardgate/shard"
	"github.com/shardgate/shardgate/store"
)

// Options shape a Cluster. The zero value is usable.
type Options struct {
	// Partitions and Backups of the table; default 32 and 1.
	Partitions, Backups int
	// Engine adjusts each engine's config after the kit's defaults
	// (node.DefaultLocalConfig with the name, shard config, addresses,
	// logger and clock filled in).
	Engine func(name string, c *node.Config)
	// Now is the engines' clock (node.Config.Now) and the source of each
	// member's StartedAt. Default time.Now, which inside a
	// testing/synctest bubble is the bubble's fake clock.
	Now func() time.Time
	// Settle bounds the wait of Start for a settled cluster; default 30 s.
	Settle time.Duration
}

// Cluster runs engines in one process over a Network and a Gossip, each
// with its own store in t.TempDir(). Every method is for the test's own
// goroutine; failures end the test.
type Cluster struct {
	t      testing.TB
	opts   Options
	dir    string
	log    *slog.Logger
	Net    *Network
	Gossip *Gossip

	mu          sync.Mutex
	nodes       map[string]*Node // running
	lastStarted int64
}

// Node is one running engine and its parts.
type Node struct {
	Name       string
	Engine     *node.Node
	Store      *store.Store
	Deliverer  *Deliverer
	Membership *Membership
	Links      *Links
	Metrics    *metrics.Metrics
}

// Start runs n engines named n1…nN and waits until their table is
// settled. Everything is stopped when the test ends.
func Start(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	c := New(t, opts)
	for i := 1; i <= n; i++ {
		c.AddNode(fmt.Sprintf("n%d", i))
	}
	c.WaitSettled(c.opts.Settle)
	return c
}

// New returns a Cluster with no node.
func New(t testing.TB, opts Options) *Cluster {
	if opts.Partitions == 0 {
		opts.Partitions = 32
	}
	if opts.Backups == 0 {
		opts.Backups = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Settle == 0 {
		opts.Settle = 30 * time.Second
	}
	log := testutil.Logger(t)
	c := &Cluster{t: t, opts: opts, dir: t.TempDir(), log: log, Net: NewNetwork(log), Gossip: NewGossip(),
		nodes: map[string]*Node{}}
	t.Cleanup(c.Close)
	return c
}

// handlerRef lets the network reach an engine that is still being built.
type handlerRef struct {
	mu sync.RWMutex
	n  *node.Node
}

func (h *handlerRef) HandleLink(ctx context.Context, from, method string, body json.RawMessage) (any, error) {
	h.mu.RLock()
	n := h.n
	h.mu.RUnlock()
	if n == nil {
		return nil, shardgate.Errorf(shardgate.KindUnavailable, "node is starting")
	}
	return n.HandleLink(ctx, from, method, body)
}

// AddNode starts an engine named name on its data dir (kept from an
// earlier run of the same name) and joins it to the membership. It does
// not wait for the table to settle.
func (c *Cluster) AddNode(name string) *Node {
	c.t.Helper()
	c.mu.Lock()
	_, running := c.nodes[name]
	started := max(c.opts.Now().UnixMilli(), c.lastStarted+1) // a restart is always younger
	c.lastStarted = started
	c.mu.Unlock()
	if running {
		c.t.Fatalf("nodetest: %s is already running", name)
	}
	dir := c.DataDir(name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		c.t.Fatalf("nodetest: data dir of %s: %v", name, err)
	}
	log := c.log.With("node", name)
	scfg := store.DefaultConfig(filepath.Join(dir, "shardgate.db"))
	scfg.NoSync = true
	scfg.Logger = log
	st, err := store.Open(scfg)
	if err != nil {
		c.t.Fatalf("nodetest: open store of %s: %v", name, err)
	}
	cfg := node.DefaultLocalConfig()
	cfg.Name = name
	cfg.Shard = shard.Config{Partitions: c.opts.Partitions, Backups: c.opts.Backups, Load: shard.DefaultConfig().Load}
	cfg.WSAddr, cfg.AdminAddr = name+":8080", name+":9090"
	cfg.Logger, cfg.Now = log, c.opts.Now
	if c.opts.Engine != nil {
		c.opts.Engine(name, &cfg)
	}
	ref := &handlerRef{}
	nd := &Node{Name: name, Store: st, Metrics: metrics.New()}
	nd.Links = c.Net.Attach(name, ref)
	nd.Membership = c.Gossip.Join(cluster.Meta{Name: name, WSAddr: cfg.WSAddr, AdminAddr: cfg.AdminAddr,
		State: shardgate.StateJoining, Partitions: c.opts.Partitions, StartedAt: started, Copies: cfg.Shard.Backups + 1})
	nd.Engine, err = node.New(cfg, st, nd.Membership, nd.Links, nd.Metrics)
	if err != nil {
		c.teardown(nd)
		c.t.Fatalf("nodetest: new engine %s: %v", name, err)
	}
	ref.mu.Lock()
	ref.n = nd.Engine
	ref.mu.Unlock()
	nd.Deliverer = NewDeliverer(nd.Engine)
	nd.Engine.SetDeliverer(nd.Deliverer)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := nd.Engine.Start(ctx); err != nil {
		c.Gossip.Fail(name)
		c.teardown(nd)
		c.t.Fatalf("nodetest: start %s: %v", name, err)
	}
	c.mu.Lock()
	c.nodes[name] = nd
	c.mu.Unlock()
	return nd
}

// DataDir is the directory that holds name's store; it outlives the node,
// so a test may change it between a stop and a restart.
func (c *Cluster) DataDir(name string) string {
	return filepath.Join(c.dir, name)
}

// Restart starts a node that was stopped or killed again, on its data dir.
func (c *Cluster) Restart(name string) *Node {
	c.t.Helper()
	return c.AddNode(name)
}

// StopNode stops name gracefully: it drains (its shards are handed off),
// leaves the membership and closes.
func (c *Cluster) StopNode(name string) {
	c.t.Helper()
	nd := c.take(name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := nd.Engine.Stop(ctx); err != nil {
		c.t.Errorf("nodetest: stop %s: %v", name, err)
	}
	c.Gossip.Leave(name)
	c.teardown(nd)
}

// Kill stops name abruptly, with no drain: it stops answering at once and
// the membership reports it failed.
func (c *Cluster) Kill(name string) {
	c.t.Helper()
	nd := c.take(name)
	c.Gossip.Fail(name)
	c.teardown(nd)
}

// Crash stops name abruptly and tells the membership nothing: its peers
// are refused at once, but gossip keeps it alive until the test calls
// Gossip.Fail, as failure detection takes its time.
func (c *Cluster) Crash(name string) {
	c.t.Helper()
	c.teardown(c.take(name))
}

func (c *Cluster) take(name string) *Node {
	c.t.Helper()
	c.mu.Lock()
	nd := c.nodes[name]
	delete(c.nodes, name)
	c.mu.Unlock()
	if nd == nil {
		c.t.Fatalf("nodetest: %s is not running", name)
	}
	return nd
}

// teardown stops every part of nd; the caller has told the membership.
func (c *Cluster) teardown(nd *Node) {
	c.Net.Detach(nd.Name) // refuses new requests, waits for those running
	nd.Links.Close()
	if nd.Deliverer != nil {
		nd.Deliverer.Close()
	}
	if nd.Engine != nil {
		_ = nd.Engine.Close()
	}
	nd.Membership.Close()
	if err := nd.Store.Close(); err != nil {
		c.log.Warn("nodetest: close store", "node", nd.Name, "err", err)
	}
}

// Close kills every running node and ends every membership view. It runs
// when the test ends.
func (c *Cluster) Close() {
	for _, nd := range c.Live() {
		c.Kill(nd.Name)
	}
}

// Node returns the running node named name, or nil.
func (c *Cluster) Node(name string) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[name]
}

// Live returns the running nodes, sorted by name.
func (c *Cluster) Live() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Node, 0, len(c.nodes))
	for _, nd := range c.nodes {
		out = append(out, nd)
	}
	slices.SortFunc(out, func(a, b *Node) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Partition splits the nodes into groups that neither link to nor see
// each other: a network partition of both gossip and node links. Nodes
// named in no group keep their links.
func (c *Cluster) Partition(groups ...[]string) {
	for i, ga := range groups {
		for _, gb := range groups[i+1:] {
			for _, a := range ga {
				for _, b := range gb {
					c.Net.Cut(a, b)
					c.Gossip.Hide(a, b)
					c.Gossip.Hide(b, a)
				}
			}
		}
	}
}

// Heal removes every link rule and every gossip partition.
func (c *Cluster) Heal() {
	c.Net.Heal()
	c.Gossip.ShowAll()
}
