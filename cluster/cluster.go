package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/shardgate/shardgate"
)

// broadcastWait bounds UpdateMeta and Leave when their context has no
// deadline: a rumour reaches everyone within a few gossip rounds, so waiting
// longer only hides a problem.
const broadcastWait = 5 * time.Second

// errLeft refuses what would make a node that left look alive again.
var errLeft = errors.New("cluster: this node has left the cluster")

// Cluster is this node's membership in a shardgate cluster.
type Cluster struct {
	cfg   Config
	log   *slog.Logger
	ml    *memberlist.Memberlist
	mlLog *memberlistLog

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine we start

	// life guards closed. Calls into memberlist that must not happen after
	// Shutdown (Leave panics then) hold it for reading; Close takes it for
	// writing.
	life      sync.RWMutex
	closed    bool
	leaving   atomic.Bool
	closeOnce sync.Once
	closeErr  error

	metaMu sync.Mutex // serializes UpdateMeta
	meta   atomic.Pointer[metaState]

	mu         sync.Mutex // guards the fields below
	members    map[string]Member
	sorted     []Member // members sorted by name, built on demand; nil after any change
	peers      *peerBook
	seedsArmed bool              // Join was called: the re-join loop may use the seeds
	mismatch   *mismatch         // last partition-count refusal seen in a merge
	nameTaken  string            // address of a live node using this name on other data
	authWarned map[string]string // member → the Auth fingerprint last warned of

	queue  *eventQueue
	events chan Event
}

// New starts gossip on cfg.BindAddr; it does not contact anyone until Join.
func New(cfg Config) (*Cluster, error) {
	cfg = cfg.withDefaults(time.Now())
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	raw, err := cfg.Meta.encode()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cluster{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "cluster"),
		ctx:     ctx,
		cancel:  cancel,
		members: make(map[string]Member),
		peers:   newPeerBook(),
		queue:   newEventQueue(),
		events:  make(chan Event),
	}
	c.mlLog = &memberlistLog{log: cfg.Logger.With("component", "memberlist")}
	c.meta.Store(&metaState{meta: cfg.Meta, raw: raw})

	if cfg.Transport == nil {
		if err := checkBindable(cfg.BindAddr); err != nil {
			cancel()
			return nil, err
		}
	}
	ml, err := memberlist.Create(c.memberlistConfig())
	if err != nil {
		cancel()
		c.mlLog.stop()
		return nil, fmt.Errorf("cluster: start gossip on %s: %w", cfg.BindAddr, err)
	}
	c.ml = ml
	c.goFunc(func() { c.queue.run(c.ctx, c.events) })
	c.goFunc(c.rejoinLoop)
	c.log.Info("gossip started", "addr", c.AdvertiseAddr(), "partitions", cfg.Meta.Partitions)
	return c, nil
}

func (c *Cluster) goFunc(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// Events delivers membership changes in order, starting with this node's
// own join. It never blocks memberlist: changes queue up until read. The
// channel is closed by Close.
func (c *Cluster) Events() <-chan Event { return c.events }

// Members returns the live members, this node included, sorted by name.
// The slice is shared by every caller until the membership changes: read
// it, never modify it. It is asked on every write (the quorum check), so it
// is built once per change rather than copied and sorted per call.
func (c *Cluster) Members() []Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sorted == nil {
		out := make([]Member, 0, len(c.members))
		for _, m := range c.members {
			out = append(out, m)
		}
		slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
		c.sorted = out
	}
	return c.sorted
}

// Member returns the named live member.
func (c *Cluster) Member(name string) (Member, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.members[name]
	return m, ok
}

// Known reports whether name is a live member, or a member that failed
// (did not leave) within ReconnectTimeout: one the re-join loop still
// tries to reach, such as a node falsely declared dead under load or cut
// off by a partition that is healing. Node links admit exactly these.
func (c *Cluster) Known(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.members[name]; ok {
		return true
	}
	p, ok := c.peers.byName[name]
	return ok && !p.left && time.Since(p.since) <= c.cfg.ReconnectTimeout
}

// LocalName is this node's name.
func (c *Cluster) LocalName() string { return c.cfg.Name }

// AdvertiseAddr is the gossip address the other nodes use for this one,
// with the actual port when BindAddr asked for port 0.
func (c *Cluster) AdvertiseAddr() string {
	if m, ok := c.Member(c.cfg.Name); ok {
		return m.GossipAddr
	}
	return c.cfg.BindAddr
}

// LocalMeta is this node's current metadata.
func (c *Cluster) LocalMeta() Meta { return c.meta.Load().meta }

// HealthScore is memberlist's view of how well this node keeps up with the
// protocol: 0 is healthy, higher means it is missing probes (an overloaded
// or partly cut-off node).
func (c *Cluster) HealthScore() int { return c.ml.GetHealthScore() }

// UpdateMeta changes this node's metadata with fn and gossips it. The change
// is in force locally at once. UpdateMeta waits until the rumour has been
// sent to the cluster or ctx ends (5 s without a deadline); an error after
// that wait means only that the spreading was not confirmed: push/pull will
// still carry it. Name and Partitions cannot change.
func (c *Cluster) UpdateMeta(ctx context.Context, fn func(*Meta)) error {
	c.life.RLock()
	defer c.life.RUnlock()
	if c.closed {
		return ErrClosed
	}
	if c.leaving.Load() {
		return errLeft
	}
	return c.updateMeta(ctx, fn)
}

// updateMeta is UpdateMeta for callers already holding c.life.
func (c *Cluster) updateMeta(ctx context.Context, fn func(*Meta)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cluster: update metadata: %w", err)
	}
	c.metaMu.Lock()
	defer c.metaMu.Unlock()
	old := c.meta.Load().meta
	next := old
	fn(&next)
	switch {
	case next.Name != old.Name:
		return fmt.Errorf("cluster: the node name cannot change (%q to %q)", old.Name, next.Name)
	case next.Partitions != old.Partitions:
		return fmt.Errorf("cluster: the partition count is fixed for the life of a cluster (%d to %d)", old.Partitions, next.Partitions)
	case !validState(next.State):
		return fmt.Errorf("cluster: the node state %q is not one of joining, active, draining, left", next.State)
	}
	raw, err := next.encode()
	if err != nil {
		return err
	}
	c.meta.Store(&metaState{meta: next, raw: raw})
	wait := waitFor(ctx)
	if err := c.ml.UpdateNode(wait); err != nil {
		return fmt.Errorf("cluster: metadata changed here, but its broadcast was not confirmed within %v: %w", wait, err)
	}
	return nil
}

func waitFor(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Millisecond) // 0 would mean "forever" to memberlist
	}
	return broadcastWait
}

// Leave leaves the cluster gracefully: it announces StateLeft, so the others
// report EventLeave rather than EventFailed, then broadcasts memberlist's
// leave and waits for it to go out, at most until ctx ends. The re-join loop
// stops. Call Close afterwards.
func (c *Cluster) Leave(ctx context.Context) error {
	c.life.RLock()
	defer c.life.RUnlock()
	if c.closed {
		return ErrClosed
	}
	c.leaving.Store(true)
	if err := c.updateMeta(ctx, func(m *Meta) { m.State = shardgate.StateLeft }); err != nil {
		// Leave anyway; the others may then report a failure instead.
		c.log.Warn("announcing the leave was not confirmed", "err", err)
	}
	wait := waitFor(ctx)
	if err := c.ml.Leave(wait); err != nil {
		return fmt.Errorf("cluster: leave broadcast not confirmed within %v: %w", wait, err)
	}
	c.log.Info("left the cluster")
	return nil
}

// Close stops gossip without a leave (to the others it looks like a crash
// unless Leave ran first), stops every goroutine this package started, waits
// for them and closes the Events channel. It is idempotent. memberlist's own
// goroutines cannot be waited for: they stop by themselves once a probe or
// push/pull in flight runs out (at most a few probe intervals or TCPTimeout).
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		c.wg.Wait()
		c.life.Lock()
		c.closed = true
		err := c.ml.Shutdown()
		c.life.Unlock()
		c.mlLog.stop()
		close(c.events)
		if err != nil {
			c.closeErr = fmt.Errorf("cluster: shut down gossip: %w", err)
		}
	})
	return c.closeErr
}
