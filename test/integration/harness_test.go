package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/client"
	"github.com/shardgate/shardgate/internal/testutil"
)

// tcluster runs shardgate nodes in this process on loopback.
type tcluster struct {
	t     testing.TB
	dir   string
	mu    sync.Mutex
	nodes map[string]*app.Server
	cfgs  map[string]app.Config
	seed  string
	mut   func(*app.Config)
}

// newCluster starts n nodes named n1..nN and waits until the table is
// stable.
func newCluster(t testing.TB, n int, mut func(*app.Config)) *tcluster {
	t.Helper()
	c := &tcluster{t: t, dir: t.TempDir(), nodes: map[string]*app.Server{}, cfgs: map[string]app.Config{}, mut: mut}
	t.Cleanup(c.closeAll)
	for i := 1; i <= n; i++ {
		c.add(fmt.Sprintf("n%d", i))
	}
	c.waitStable(30 * time.Second)
	return c
}

// add configures and starts a new node that joins the cluster.
func (c *tcluster) add(name string) *app.Server {
	c.t.Helper()
	cfg := app.DefaultConfig()
	cfg.Name = name
	cfg.DataDir = filepath.Join(c.dir, name)
	// Every port from FreePort, none from the kernel (":0"): the tests run
	// in parallel, and a port a killed node let go must not become another
	// test's listener while clients and peers of the first still dial it.
	cfg.GossipAddr = testutil.FreeAddr(c.t)
	cfg.WSAddr = testutil.FreeAddr(c.t)
	cfg.AdminAddr = testutil.FreeAddr(c.t)
	cfg.Partitions = 64
	cfg.Insecure = true
	cfg.Local = true
	cfg.NoSync = true
	// These tests check what a cluster does, not how fast it refuses: they
	// run beside each other under the race detector on a small machine,
	// where one forwarded write can outlast the production budgets (900 ms
	// forward, 600 ms replication) and a refused send fails most of them.
	// Refusal timing is tested on the node kit. A test may set its own.
	cfg.WriteTimeout, cfg.ReplicateTimeout = 3*time.Second, 2*time.Second
	cfg.Logger = testutil.Logger(c.t)
	c.mu.Lock()
	if c.seed != "" {
		cfg.Join = []string{c.seed}
	} else {
		c.seed = cfg.GossipAddr
	}
	c.mu.Unlock()
	if c.mut != nil {
		c.mut(&cfg)
	}
	c.mu.Lock()
	c.cfgs[name] = cfg
	c.mu.Unlock()
	return c.start(name)
}

// start (re)starts a configured node with its data dir and addresses.
func (c *tcluster) start(name string) *app.Server {
	c.t.Helper()
	c.mu.Lock()
	cfg := c.cfgs[name]
	c.mu.Unlock()
	var s *app.Server
	var err error
	for i := 0; i < 20; i++ { // the gossip port of a killed node may linger briefly
		if s, err = app.New(cfg); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		c.t.Fatalf("start %s: %v", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		s.Kill()
		c.t.Fatalf("start %s: %v", name, err)
	}
	c.mu.Lock()
	c.nodes[name] = s
	c.mu.Unlock()
	return s
}

func (c *tcluster) node(name string) *app.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[name]
}

func (c *tcluster) live() []*app.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*app.Server
	for _, s := range c.nodes {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// kill stops a node abruptly (no drain, no leave).
func (c *tcluster) kill(name string) {
	c.mu.Lock()
	s := c.nodes[name]
	delete(c.nodes, name)
	c.mu.Unlock()
	if s != nil {
		// A kill that takes long keeps the node half there (its engine
		// closing, its membership and links still up): say so, it
		// explains a stall of the workload.
		start := time.Now()
		s.Kill()
		if took := time.Since(start); took > 5*time.Second {
			c.t.Logf("killing %s took %v", name, took)
		}
	}
}

// stop drains a node gracefully and waits until it has left.
func (c *tcluster) stop(name string) {
	c.mu.Lock()
	s := c.nodes[name]
	delete(c.nodes, name)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		c.t.Errorf("stop %s: %v", name, err)
	}
}

func (c *tcluster) closeAll() {
	for _, s := range c.live() {
		s.Kill()
	}
}

// waitStable waits until every live node has the same table, in which
// every shard is held only by live nodes with no copy pending and with as
// many copies as the cluster allows.
func (c *tcluster) waitStable(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var why string
	for time.Now().Before(deadline) {
		if why = c.unstable(); why == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("cluster not stable after %v: %s", timeout, why)
}

func (c *tcluster) unstable() string {
	nodes := c.live()
	live := map[string]bool{}
	for _, s := range nodes {
		live[s.Name()] = true
	}
	var version uint64
	for i, s := range nodes {
		if err := s.Node().Ready(); err != nil {
			return s.Name() + " not ready: " + err.Error()
		}
		pv, _ := s.Node().Partitions(context.Background())
		if i == 0 {
			owned := map[string]bool{}
			for _, p := range pv.Partitions {
				owned[p.Owner] = true
			}
			for name := range live {
				if !owned[name] {
					return name + " owns no shard yet"
				}
			}
			version = pv.Version
			for _, p := range pv.Partitions {
				if !live[p.Owner] || p.State != shardgate.ShardStable || p.UnderReplicated {
					return fmt.Sprintf("shard %d: owner %s state %s under-replicated %v", p.ID, p.Owner, p.State, p.UnderReplicated)
				}
				for _, b := range p.Backups {
					if !live[b] {
						return fmt.Sprintf("shard %d backed up on dead %s", p.ID, b)
					}
				}
			}
		} else if pv.Version != version {
			return fmt.Sprintf("%s has table v%d, %s has v%d", s.Name(), pv.Version, nodes[0].Name(), version)
		}
	}
	return ""
}

// waitAllSeeAll waits until every live node counts every live node as
// active in its own view of the cluster (memberlist and the node links),
// which a stable table does not promise.
func (c *tcluster) waitAllSeeAll(timeout time.Duration) {
	c.t.Helper()
	testutil.EventuallyExplained(c.t, timeout, "every node to see every other active", func() string {
		nodes := c.live()
		for _, s := range nodes {
			cv, err := s.Node().Cluster(context.Background())
			if err != nil {
				return s.Name() + ": " + err.Error()
			}
			for _, o := range nodes {
				if st := nodeState(cv, o.Name()); st != shardgate.StateActive {
					return fmt.Sprintf("%s sees %s as %q", s.Name(), o.Name(), st)
				}
			}
		}
		return ""
	})
}

// dial connects key to the node named on.
func (c *tcluster) dial(on, key string, since *uint64) *client.Conn {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, c.node(on).WSURL(), client.Options{User: key, Since: since})
	if err != nil {
		c.t.Fatalf("dial %s as %s: %v", on, key, err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

// inbox reads key's whole inbox through any live node.
func (c *tcluster) inbox(key string) []shardgate.Message {
	c.t.Helper()
	var out []shardgate.Message
	since := uint64(0)
	for {
		var res shardgate.HistoryResult
		var err error
		for attempt := 0; attempt < 50; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err = c.live()[0].Node().History(ctx, key, since, 1000)
			cancel()
			if err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			c.t.Fatalf("read inbox of %s: %v", key, err)
		}
		out = append(out, res.Messages...)
		if len(res.Messages) == 0 || res.Messages[len(res.Messages)-1].Seq >= res.LastSeq {
			return out
		}
		since = res.Messages[len(res.Messages)-1].Seq
	}
}
