package nodetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/shardgate/shardgate/cluster"
)

// Gossip is a scripted membership: what cluster/ would learn by gossip,
// decided by the test. Members join, leave and fail when the test says so;
// metadata updates reach every member that sees the updater at once; Hide
// makes one member see another as failed (a gossip partition) until Show.
// Safe for concurrent use.
type Gossip struct {
	mu      sync.Mutex
	members map[string]*gmember
	hidden  map[[2]string]bool // viewer → member it sees as failed
}

type gmember struct {
	meta   cluster.Meta
	status string      // cluster.StatusAlive, StatusLeft or StatusDead
	view   *Membership // nil once the member is gone
	health int
}

// NewGossip returns a membership with no members.
func NewGossip() *Gossip {
	return &Gossip{members: map[string]*gmember{}, hidden: map[[2]string]bool{}}
}

// Join adds a member (or brings one back under a new meta) and returns its
// view, to hand to node.New. Its Events start with its own join and one
// join per member it sees; every member that sees it gets a join, after a
// failure of the old process when that one was still thought alive.
func (g *Gossip) Join(meta cluster.Meta) *Membership {
	v := newMembership(g, meta.Name)
	g.mu.Lock()
	defer g.mu.Unlock()
	if old := g.members[meta.Name]; old != nil {
		if old.view != nil {
			old.view.close()
		}
		if old.status == cluster.StatusAlive {
			// A restart before failure detection noticed the crash: the
			// old process fails, then the new one joins.
			gone := g.memberLocked(meta.Name)
			gone.Status = cluster.StatusDead
			for _, other := range g.viewersLocked(meta.Name) {
				other.enqueue(cluster.Event{Type: cluster.EventFailed, Member: gone})
			}
		}
	}
	g.members[meta.Name] = &gmember{meta: meta, status: cluster.StatusAlive, view: v}
	v.enqueue(cluster.Event{Type: cluster.EventJoin, Member: g.memberLocked(meta.Name)})
	for _, name := range g.namesLocked() {
		if name == meta.Name {
			continue
		}
		m := g.members[name]
		if m.status != cluster.StatusAlive {
			continue
		}
		if !g.hidden[[2]string{meta.Name, name}] {
			v.enqueue(cluster.Event{Type: cluster.EventJoin, Member: g.memberLocked(name)})
		}
		if m.view != nil && !g.hidden[[2]string{name, meta.Name}] {
			m.view.enqueue(cluster.Event{Type: cluster.EventJoin, Member: g.memberLocked(meta.Name)})
		}
	}
	return v
}

// Leave marks name as gone gracefully (its meta says left) and tells every
// member that sees it. Its view stops.
func (g *Gossip) Leave(name string) { g.depart(name, cluster.StatusLeft, cluster.EventLeave) }

// Fail marks name as dead, as failure detection would after a crash, and
// tells every member that sees it. Its view stops.
func (g *Gossip) Fail(name string) { g.depart(name, cluster.StatusDead, cluster.EventFailed) }

func (g *Gossip) depart(name, status string, ev cluster.EventType) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.members[name]
	if m == nil || m.status != cluster.StatusAlive {
		return
	}
	gone := g.memberLocked(name)
	m.status = status
	gone.Status = status
	if m.view != nil {
		m.view.close()
		m.view = nil
	}
	for _, other := range g.viewersLocked(name) {
		other.enqueue(cluster.Event{Type: ev, Member: gone})
	}
}

// Hide makes viewer see member as failed (viewer gets EventFailed) while
// member stays alive for everyone else.
func (g *Gossip) Hide(viewer, member string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := [2]string{viewer, member}
	if g.hidden[key] {
		return
	}
	g.hidden[key] = true
	v, m := g.members[viewer], g.members[member]
	if v != nil && v.view != nil && m != nil && m.status == cluster.StatusAlive {
		gone := g.memberLocked(member)
		gone.Status = cluster.StatusDead
		v.view.enqueue(cluster.Event{Type: cluster.EventFailed, Member: gone})
	}
}

// Show undoes Hide: viewer sees member join again with its current meta.
func (g *Gossip) Show(viewer, member string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := [2]string{viewer, member}
	if !g.hidden[key] {
		return
	}
	delete(g.hidden, key)
	v, m := g.members[viewer], g.members[member]
	if v != nil && v.view != nil && m != nil && m.status == cluster.StatusAlive {
		v.view.enqueue(cluster.Event{Type: cluster.EventJoin, Member: g.memberLocked(member)})
	}
}

// ShowAll undoes every Hide.
func (g *Gossip) ShowAll() {
	g.mu.Lock()
	var keys [][2]string
	for k := range g.hidden {
		keys = append(keys, k)
	}
	g.mu.Unlock()
	for _, k := range keys {
		g.Show(k[0], k[1])
	}
}

// SetHealth sets the health score name's view reports (0 is healthy).
func (g *Gossip) SetHealth(name string, score int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m := g.members[name]; m != nil {
		m.health = score
	}
}

// Meta is name's current metadata as gossip knows it.
func (g *Gossip) Meta(name string) (cluster.Meta, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.members[name]
	if m == nil {
		return cluster.Meta{}, false
	}
	return m.meta, true
}

func (g *Gossip) namesLocked() []string {
	names := make([]string, 0, len(g.members))
	for n := range g.members {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (g *Gossip) memberLocked(name string) cluster.Member {
	m := g.members[name]
	return cluster.Member{Name: name, GossipAddr: name + ":7946", Meta: m.meta, Status: m.status}
}

// viewersLocked lists the live views, other than name's own, that see name.
func (g *Gossip) viewersLocked(name string) []*Membership {
	var out []*Membership
	for _, n := range g.namesLocked() {
		m := g.members[n]
		if n != name && m.view != nil && m.status == cluster.StatusAlive && !g.hidden[[2]string{n, name}] {
			out = append(out, m.view)
		}
	}
	return out
}

// Membership is one member's view of the Gossip; it implements
// node.Membership.
type Membership struct {
	g    *Gossip
	name string
	out  chan cluster.Event

	mu      sync.Mutex
	queue   []cluster.Event
	wake    chan struct{}
	stopped chan struct{}
	done    chan struct{}
	closed  bool
}

func newMembership(g *Gossip, name string) *Membership {
	v := &Membership{g: g, name: name, out: make(chan cluster.Event), wake: make(chan struct{}, 1),
		stopped: make(chan struct{}), done: make(chan struct{})}
	go v.pump()
	return v
}

// pump hands queued events to the reader in order; enqueue never blocks
// the script, as cluster/ never blocks memberlist.
func (v *Membership) pump() {
	defer close(v.done)
	defer close(v.out)
	for {
		v.mu.Lock()
		q := v.queue
		v.queue = nil
		v.mu.Unlock()
		for _, e := range q {
			select {
			case v.out <- e:
			case <-v.stopped:
				return
			}
		}
		select {
		case <-v.wake:
		case <-v.stopped:
			return
		}
	}
}

func (v *Membership) enqueue(e cluster.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	v.queue = append(v.queue, e)
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// close stops the events (the channel is closed) without waiting.
func (v *Membership) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.closed {
		v.closed = true
		close(v.stopped)
	}
}

// Close stops this view's events and waits until its goroutine has ended.
// It does not leave: use Gossip.Leave or Gossip.Fail.
func (v *Membership) Close() {
	v.close()
	<-v.done
}

// LocalName is this member's name.
func (v *Membership) LocalName() string { return v.name }

// Events delivers membership changes in order, starting with this
// member's own join; closed when the member is gone.
func (v *Membership) Events() <-chan cluster.Event { return v.out }

// Members returns the live members this one sees, itself included, sorted
// by name.
func (v *Membership) Members() []cluster.Member {
	g := v.g
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []cluster.Member
	for _, n := range g.namesLocked() {
		m := g.members[n]
		if m.status == cluster.StatusAlive && (n == v.name || !g.hidden[[2]string{v.name, n}]) {
			out = append(out, g.memberLocked(n))
		}
	}
	return out
}

// UpdateMeta changes this member's metadata and tells every member that
// sees it, at once.
func (v *Membership) UpdateMeta(ctx context.Context, fn func(*cluster.Meta)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("nodetest: update metadata: %w", err)
	}
	g := v.g
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.members[v.name]
	if m == nil || m.view != v {
		return fmt.Errorf("nodetest: update metadata of %s: %w", v.name, cluster.ErrClosed)
	}
	next := m.meta
	fn(&next)
	if next.Name != m.meta.Name || next.Partitions != m.meta.Partitions {
		return fmt.Errorf("nodetest: the name and the partition count of %s cannot change", v.name)
	}
	if strings.TrimSpace(next.State) == "" {
		return fmt.Errorf("nodetest: empty state for %s", v.name)
	}
	m.meta = next
	for _, other := range g.viewersLocked(v.name) {
		other.enqueue(cluster.Event{Type: cluster.EventUpdate, Member: g.memberLocked(v.name)})
	}
	return nil
}

// LocalMeta is this member's current metadata.
func (v *Membership) LocalMeta() cluster.Meta {
	meta, _ := v.g.Meta(v.name)
	return meta
}

// HealthScore is the score SetHealth gave this member (0 by default).
func (v *Membership) HealthScore() int {
	v.g.mu.Lock()
	defer v.g.mu.Unlock()
	if m := v.g.members[v.name]; m != nil {
		return m.health
	}
	return 0
}
