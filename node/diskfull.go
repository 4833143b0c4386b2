package node

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/store"
)

// diskGuard is the node's knowledge that its disk is full. A local write
// that fails for lack of space or quota (store.IsDiskFull) puts it in the
// full state: from then on sends to keys homed here are refused at once
// with storage_full (1003, HTTP 507) naming the disk, instead of each
// failing deep in the store, while reads go on. A probe retries a small
// write every interval and leaves the full state as soon as one succeeds,
// so the node recovers by itself when space returns. Nothing is lost: a
// write that failed for space was never acknowledged.
//
// Its dependencies are values; it knows nothing else of the Node.
type diskGuard struct {
	node     string
	dir      string
	probe    func() error
	interval time.Duration
	setGauge func(float64)
	log      *slog.Logger
	spawn    func(func()) // starts the probe loop on a goroutine its owner waits for
	ctx      context.Context

	mu      sync.Mutex
	cause   error     // the write error that filled it; nil while not full
	since   time.Time // when it became full
	probing bool
}

// note passes err through unless it says the disk is full; then the guard
// enters (or stays in) the full state and the error becomes storage_full,
// keeping err as its cause.
func (g *diskGuard) note(err error) error {
	if err == nil || !store.IsDiskFull(err) {
		return err
	}
	g.mu.Lock()
	if g.cause == nil {
		g.since = time.Now()
		g.setGauge(1)
		g.log.Error("disk full: refusing writes until space returns; reads go on", "dir", g.dir, "err", err)
	}
	g.cause = err
	start := !g.probing && g.ctx.Err() == nil
	if start {
		g.probing = true
	}
	g.mu.Unlock()
	if start {
		g.spawn(g.probeLoop)
	}
	return g.refusalOf(err)
}

// refusal is nil while the disk has room, else the storage_full error a
// write gets at once.
func (g *diskGuard) refusal() error {
	g.mu.Lock()
	cause := g.cause
	g.mu.Unlock()
	if cause == nil {
		return nil
	}
	return g.refusalOf(cause)
}

// refusalOf keeps the cause for logs and errors.Is; the message, which
// clients see, names the node but not its paths.
func (g *diskGuard) refusalOf(cause error) error {
	return &shardgate.Error{Kind: shardgate.KindStorageFull, Err: cause,
		Message: fmt.Sprintf("disk full: node %s has no space left to store writes; they are refused until space returns, reads still work", g.node)}
}

// full reports whether writes are being refused for a full disk.
func (g *diskGuard) full() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cause != nil
}

// probeLoop tries the probe every interval until it succeeds (the disk
// has room again: writes are accepted) or the node stops.
func (g *diskGuard) probeLoop() {
	t := time.NewTicker(g.interval)
	defer t.Stop()
	for {
		select {
		case <-g.ctx.Done():
			g.mu.Lock()
			g.probing = false
			g.mu.Unlock()
			return
		case <-t.C:
		}
		if err := g.probe(); err != nil {
			continue
		}
		g.mu.Lock()
		g.cause = nil
		g.probing = false
		since := g.since
		g.mu.Unlock()
		g.setGauge(0)
		g.log.Info("disk has room again: accepting writes", "dir", g.dir, "full_for", time.Since(since).Round(time.Millisecond))
		return
	}
}

// newDiskGuard builds the node's guard over its store. cfg.StoreFault, a
// test hook, fails the probe as it fails writes.
func (n *Node) newDiskGuard() *diskGuard {
	probe := n.st.ProbeSpace
	if f := n.cfg.StoreFault; f != nil {
		probe = func() error {
			if err := f(); err != nil {
				return err
			}
			return n.st.ProbeSpace()
		}
	}
	return &diskGuard{node: n.name, dir: n.st.Dir(), probe: probe, interval: n.cfg.DiskProbeInterval,
		setGauge: n.m.DiskFull.Set, log: n.log, spawn: n.goFunc, ctx: n.ctx}
}

// apply commits ops to the local store, turning a full disk into the
// guard's refusal (see diskGuard).
func (n *Node) apply(ctx context.Context, ops []store.Op) error {
	if f := n.cfg.StoreFault; f != nil {
		if err := f(); err != nil {
			return n.disk.note(err)
		}
	}
	return n.disk.note(n.st.Apply(ctx, ops))
}

// writable says whether a new message may be stored here now: not while
// the disk is full, nor over the storage limit (--max-storage-bytes).
func (n *Node) writable() error {
	if err := n.disk.refusal(); err != nil {
		return err
	}
	return n.st.Writable()
}
