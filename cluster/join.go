package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"time"
)

// Join backoff between attempts: doubling from joinBackoffMin, at most
// joinBackoffMax, with jitter so that nodes started together do not retry
// in lockstep.
const (
	joinBackoffMin = 100 * time.Millisecond
	joinBackoffMax = 5 * time.Second
)

// maxRejoinPerRound bounds one re-join round: a peer whose host is gone
// costs a whole TCPTimeout, and a few such peers must not stretch a round
// far beyond RejoinInterval.
const maxRejoinPerRound = 3

// mismatch is a peer refused for its partition count.
type mismatch struct {
	name, addr string
	partitions int
	// data and other are set when the refusal was for the cluster's
	// identity (dataCluster), not the partition count.
	data, other string
}

func (c *Cluster) recordMismatch(m mismatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mismatch = &m
}

// recordNameTaken remembers the address of a live node that uses this
// node's name with another data dir; Join refuses to go on.
func (c *Cluster) recordNameTaken(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nameTaken = addr
}

func (c *Cluster) takeNameTaken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	addr := c.nameTaken
	c.nameTaken = ""
	return addr
}

// clusterMismatchErr says which side holds the messages that keep two
// clusters apart, and what the operator can do.
func (c *Cluster) clusterMismatchErr(m *mismatch) error {
	if c.meta.Load().meta.Data == m.data {
		return fmt.Errorf("cluster: %s at %s belongs to cluster %s, but the messages in this node's data dir belong to cluster %s, and joining would discard them; --join a node of cluster %s, or start this node on an empty --data-dir to join the other cluster: %w",
			m.name, m.addr, m.other, m.data, m.data, ErrClusterMismatch)
	}
	return fmt.Errorf("cluster: %s at %s holds messages of cluster %s, and this node is a member of cluster %s; the two stay apart: %w",
		m.name, m.addr, m.data, m.other, ErrClusterMismatch)
}

func (c *Cluster) takeMismatch() *mismatch {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.mismatch
	c.mismatch = nil
	return m
}

// Join contacts the seeds (Config.Join) and merges with their cluster,
// retrying with backoff until one answers, ctx ends or JoinTimeout passes.
// Each attempt also tries one of the last run's peers (Config.Peers), and
// Join ends as soon as any peer has reached this node: a restarted node
// whose seeds are down still finds the rest of its cluster.
// It returns nil at once when there are no seeds other than this node. A
// cluster with another partition count is refused at once with an error
// wrapping ErrPartitionMismatch. One attempt cannot be interrupted and lasts
// at most TCPTimeout per seed. Whatever Join returns (except a partition
// mismatch), the re-join loop keeps trying the seeds while this node is
// alone.
func (c *Cluster) Join(ctx context.Context) error {
	if c.leaving.Load() {
		return errLeft
	}
	seeds := c.seeds()
	if len(seeds) == 0 {
		if len(c.cfg.Join) > 0 {
			c.log.Warn("--join names only this node: it starts a cluster of its own; give the gossip address of another node to join its cluster",
				"join", strings.Join(c.cfg.Join, ","))
		}
		return nil
	}
	c.mu.Lock()
	c.seedsArmed = true
	c.mu.Unlock()

	peers := c.lastRunPeers(seeds)
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.JoinTimeout)
	defer cancel()
	backoff := joinBackoffMin
	probed := false // seeds that time out were asked once whether they speak HTTP
	for attempt := 1; ; attempt++ {
		// A peer (of the last run, whose re-join loop looks for this
		// node) may reach it before any seed answers: then it has joined,
		// and waiting on for the seeds would only end in giving up.
		if n := len(c.Members()); n > 1 {
			c.log.Info("joined the cluster: a peer reached this node", "members", n, "attempts", attempt-1)
			return nil
		}
		c.takeMismatch()
		c.takeNameTaken()
		targets := seeds
		if len(peers) > 0 {
			// The seeds may be down while the rest of the cluster is up.
			// One peer of the last run per attempt: a host gone for good
			// costs a whole TCPTimeout.
			targets = append(slices.Clone(seeds), peers[(attempt-1)%len(peers)])
		}
		n, err := c.joinOnce(targets)
		if errors.Is(err, ErrClosed) {
			return err
		}
		m := c.takeMismatch()
		if m != nil && m.data != "" {
			if n > 0 {
				c.log.Warn("some seeds belong to another cluster than the messages in this node's data dir, and were refused",
					"node", m.name, "addr", m.addr, "their_cluster", m.other, "data_cluster", m.data)
			} else {
				c.mu.Lock()
				c.seedsArmed = false
				c.mu.Unlock()
				return c.clusterMismatchErr(m)
			}
			m = nil
		}
		if m != nil && n > 0 {
			c.log.Warn("some seeds belong to a cluster with another partition count and were refused",
				"node", m.name, "addr", m.addr, "their_partitions", m.partitions)
		}
		if m != nil && n == 0 {
			c.mu.Lock()
			c.seedsArmed = false
			c.mu.Unlock()
			return fmt.Errorf("cluster: partition count %d differs from the cluster's %d (node %s at %s); every node must use the same partition count: %w",
				c.cfg.Meta.Partitions, m.partitions, m.name, m.addr, ErrPartitionMismatch)
		}
		if addr := c.takeNameTaken(); addr != "" {
			c.mu.Lock()
			c.seedsArmed = false
			c.mu.Unlock()
			return fmt.Errorf("cluster: a node at %s already uses the name %q with a data dir of its own; every node needs its own --name: %w",
				addr, c.cfg.Name, ErrNameTaken)
		}
		if n > 0 {
			c.log.Info("joined the cluster", "seeds_reached", n, "members", len(c.Members()), "attempts", attempt)
			return nil
		}
		if !probed && err != nil && strings.Contains(err.Error(), "i/o timeout") {
			probed = true
			web := answersHTTP(ctx, seeds)
			if len(web) == len(seeds) {
				c.mu.Lock()
				c.seedsArmed = false
				c.mu.Unlock()
				return fmt.Errorf("cluster: --join %s answers HTTP: it is a node's WebSocket or admin listener, not its gossip port; give the --gossip-addr of a node (port 7946 by default)",
					strings.Join(web, ", "))
			}
			if len(web) > 0 {
				c.log.Warn("some --join addresses answer HTTP: they are a node's WebSocket or admin listener, not its gossip port (--gossip-addr, port 7946 by default)",
					"addrs", strings.Join(web, ","))
			}
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		c.log.Warn("join failed, retrying", "attempt", attempt, "retry_in", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			via := strings.Join(seeds, ", ")
			if len(peers) > 0 {
				via += fmt.Sprintf(" or the last run's peers (%s)", strings.Join(peers, ", "))
			}
			return fmt.Errorf("cluster: could not join via %s within %v (last error: %w): %w",
				via, time.Since(start).Round(time.Millisecond), err, ctx.Err())
		case <-c.ctx.Done():
			timer.Stop()
			return ErrClosed
		}
		backoff = min(backoff*2, joinBackoffMax)
	}
}

// answersHTTP returns the seeds that answer an HTTP request. memberlist
// only times out on such a seed, since the HTTP server waits for a request
// line that never comes: an operator gave a node's WebSocket or admin
// address instead of its gossip address. Each seed is asked once, for at
// most httpProbeTimeout; a seed without a port is the gossip default and
// is not asked.
func answersHTTP(ctx context.Context, seeds []string) []string {
	var out []string
	for _, s := range seeds {
		if _, _, err := net.SplitHostPort(s); err != nil {
			continue
		}
		if speaksHTTP(ctx, s) {
			out = append(out, s)
		}
	}
	return out
}

const httpProbeTimeout = time.Second

func speaksHTTP(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, httpProbeTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		return false
	}
	head := make([]byte, 5)
	if _, err := io.ReadFull(conn, head); err != nil {
		return false
	}
	return string(head) == "HTTP/"
}

// seeds are the configured join addresses, minus this node's own: nodes
// are often all given the same list, and "joining" oneself would count as
// success.
func (c *Cluster) seeds() []string {
	self := []string{c.cfg.BindAddr, c.AdvertiseAddr()}
	var out []string
	for _, s := range c.cfg.Join {
		if !slices.Contains(self, s) {
			out = append(out, s)
		}
	}
	return out
}

// lastRunPeers are the peers of an earlier run (Config.Peers) that are
// neither this node nor a seed.
func (c *Cluster) lastRunPeers(seeds []string) []string {
	var out []string
	for _, p := range c.cfg.Peers {
		if p != c.cfg.BindAddr && p != c.AdvertiseAddr() && !slices.Contains(seeds, p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// joinOnce asks memberlist to push/pull with addrs and reports how many
// answered.
func (c *Cluster) joinOnce(addrs []string) (int, error) {
	c.life.RLock()
	defer c.life.RUnlock()
	if c.closed {
		return 0, ErrClosed
	}
	n, err := c.ml.Join(addrs)
	return n, flatten(err)
}

// flatten turns memberlist's multi-line error list into one line. Nothing
// is lost: memberlist already formatted the causes into strings.
func flatten(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	if _, rest, ok := strings.Cut(s, "occurred:"); ok {
		s = rest
	}
	var parts []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*")); line != "" {
			parts = append(parts, line)
		}
	}
	s = strings.Join(parts, "; ")
	if strings.Contains(s, "decrypt") {
		s += " (is the cluster key the same on every node?)"
	}
	return errors.New(s)
}

// rejoinLoop is what memberlist lacks after a long partition: both sides
// have declared each other dead and, after GossipToTheDeadTime, forgotten
// each other, so nothing would ever bring them together again. Every
// RejoinInterval it joins the peers it has seen that are absent now (not
// those that left gracefully) and, while this node is alone, the seeds.
// One successful push/pull merges the whole other side, so a round stops at
// the first peer that answers.
func (c *Cluster) rejoinLoop() {
	t := time.NewTicker(c.cfg.RejoinInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		if c.leaving.Load() {
			return
		}
		targets := c.rejoinTargets()
		if len(targets) > maxRejoinPerRound {
			targets = targets[:maxRejoinPerRound] // shuffled: the rest get their turn later
		}
		for _, addr := range targets {
			if c.ctx.Err() != nil {
				return
			}
			n, err := c.joinOnce([]string{addr})
			if n > 0 {
				c.log.Info("re-joined an absent peer", "addr", addr, "members", len(c.Members()))
				break
			}
			c.log.Debug("re-join failed", "addr", addr, "err", err)
		}
	}
}

func (c *Cluster) rejoinTargets() []string {
	c.mu.Lock()
	targets := c.peers.absent(c.members, time.Now(), c.cfg.ReconnectTimeout)
	alone := len(c.members) <= 1
	armed := c.seedsArmed
	c.mu.Unlock()
	if !alone {
		return targets
	}
	var more []string
	if armed {
		more = c.seeds()
	}
	for _, p := range c.cfg.Peers {
		if p != c.cfg.BindAddr && p != c.AdvertiseAddr() {
			more = append(more, p)
		}
	}
	for _, s := range more {
		if !slices.Contains(targets, s) {
			targets = append(targets, s)
		}
	}
	return targets
}
