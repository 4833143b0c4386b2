package node

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Node links as a second failure signal. memberlist keeps a node alive as
// long as some member can reach it, even indirectly: a node whose link
// traffic is cut one way stays "alive" while every write it takes part in
// stalls. So every node also calls each peer over the links every
// HeartbeatInterval. A peer whose calls have all failed for LinkFailAfter
// is unreachable from here; each node tells the others which peers it
// cannot reach (in its stats). A peer that a majority of the table's
// members cannot reach is treated as failed: it is left out of the live
// members (the coordinator fails it over and stops counting it for quorum)
// and cannot be coordinator. A node that cannot reach a majority itself has
// no quorum and refuses writes. When calls succeed again, it all undoes
// itself.

type linkHealth struct {
	mu        sync.Mutex
	lastOK    map[string]time.Time // peer → last successful heartbeat
	reports   map[string]report    // reporter → peers it cannot reach
	naming    int                  // reports that name at least one peer
	tied      map[string]bool      // peer ("self" for this node) → failed by the tie-break (linktiebreak.go)
	selfElder string               // the elder this node is cut from, while tied["self"]
	reached   map[string]bool      // peers a call has ever succeeded with (linktiebreak.go)
	cuts      map[string]report    // reporter → peers it reached once and cannot reach now
	cutting   int                  // cuts that name at least one peer
}

type report struct {
	peers map[string]bool
	at    time.Time
}

func newLinkHealth() *linkHealth {
	return &linkHealth{lastOK: map[string]time.Time{}, reports: map[string]report{}}
}

func (h *linkHealth) ok(peer string, at time.Time) {
	h.mu.Lock()
	h.lastOK[peer] = at
	if h.reached == nil {
		h.reached = map[string]bool{}
	}
	h.reached[peer] = true
	h.mu.Unlock()
}

// answered is ok for a peer the heartbeats already watch: a call answered
// late by a peer that has left since must not bring it back.
func (h *linkHealth) answered(peer string, at time.Time) {
	h.mu.Lock()
	if _, ok := h.lastOK[peer]; ok {
		h.lastOK[peer] = at
		if h.reached == nil {
			h.reached = map[string]bool{}
		}
		h.reached[peer] = true
	}
	h.mu.Unlock()
}

// seen starts the clock of a peer heard of for the first time.
func (h *linkHealth) seen(peer string, at time.Time) {
	h.mu.Lock()
	if _, ok := h.lastOK[peer]; !ok {
		h.lastOK[peer] = at
	}
	h.mu.Unlock()
}

func (h *linkHealth) forget(peer string) {
	h.mu.Lock()
	delete(h.lastOK, peer)
	if len(h.reports[peer].peers) > 0 {
		h.naming--
	}
	delete(h.reports, peer)
	delete(h.reached, peer)
	if len(h.cuts[peer].peers) > 0 {
		h.cutting--
	}
	delete(h.cuts, peer)
	h.mu.Unlock()
}

// unreachable lists the peers this node has not completed a call with for
// failAfter, sorted.
func (h *linkHealth) unreachable(now time.Time, failAfter time.Duration) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for peer, at := range h.lastOK {
		if now.Sub(at) > failAfter {
			out = append(out, peer)
		}
	}
	sort.Strings(out)
	return out
}

func (h *linkHealth) setReport(from string, peers []string, at time.Time) {
	set := make(map[string]bool, len(peers))
	for _, p := range peers {
		set[p] = true
	}
	h.mu.Lock()
	if len(h.reports[from].peers) > 0 {
		h.naming--
	}
	if len(set) > 0 {
		h.naming++
	}
	h.reports[from] = report{peers: set, at: at}
	h.mu.Unlock()
}

// quiet says, under one lock, that nothing can make peer link-dead now:
// no report or cut report names anyone, this node's calls to peer have not
// stopped and the tie-break has not failed it. It is asked first for every
// member on every write; when it is false the full verdict is worked out.
func (h *linkHealth) quiet(peer string, now time.Time, failAfter time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.naming > 0 || h.cutting > 0 || h.tied[peer] {
		return false
	}
	at, ok := h.lastOK[peer]
	return !ok || now.Sub(at) <= failAfter
}

// unreachableNow says whether peer is among unreachable(now, failAfter),
// without listing them all: it is asked for every member on every write.
func (h *linkHealth) unreachableNow(peer string, now time.Time, failAfter time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	at, ok := h.lastOK[peer]
	return ok && now.Sub(at) > failAfter
}

// reporters counts the members other than self whose fresh report says
// they cannot reach peer.
func (h *linkHealth) reporters(peer, self string, members []string, now time.Time, fresh time.Duration) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.naming == 0 {
		return 0 // no report names anyone: the usual case, asked per member per write
	}
	n := 0
	for _, m := range members {
		if m == self || m == peer {
			continue
		}
		r, ok := h.reports[m]
		if ok && now.Sub(r.at) <= fresh && r.peers[peer] {
			n++
		}
	}
	return n
}

// linkDead says whether a majority of the table's members cannot reach
// peer over the links.
func (n *Node) linkDead(peer string) bool {
	if peer == n.name || n.cfg.LinkFailAfter <= 0 {
		return false
	}
	return n.linkDeadIn(peer, n.currentTable().Members, n.cfg.Now())
}

// linkDeadIn is linkDead against the given table members at now, for
// callers that ask it of every member in one pass.
func (n *Node) linkDeadIn(peer string, members []string, now time.Time) bool {
	if peer == n.name || n.cfg.LinkFailAfter <= 0 || len(members) == 0 {
		return false
	}
	if n.health.quiet(peer, now, n.cfg.LinkFailAfter) {
		return false // what follows would count no vote and find no tie
	}
	votes := n.health.reporters(peer, n.name, members, now, 3*n.cfg.LinkFailAfter)
	if n.health.unreachableNow(peer, now, n.cfg.LinkFailAfter) {
		votes++
	}
	if votes >= len(members)/2+1 {
		return true
	}
	return n.outranked(peer, members, now) // see linktiebreak.go
}

// reachesMajority says whether this node completes calls with a majority
// of the table's members (itself included).
func (n *Node) reachesMajority() bool {
	t := n.currentTable()
	if len(t.Members) == 0 || n.cfg.LinkFailAfter <= 0 {
		return true
	}
	cut := map[string]bool{}
	for _, p := range n.health.unreachable(n.cfg.Now(), n.cfg.LinkFailAfter) {
		cut[p] = true
	}
	reach := 0
	for _, m := range t.Members {
		if m == n.name || !cut[m] {
			reach++
		}
	}
	return reach >= len(t.Members)/2+1 && !n.cutFromElder(t.Members) // see linktiebreak.go
}

// answeredLinks counts every call a peer answers as proof that the link to
// it works, as a heartbeat's answer is: under load a ping can wait behind a
// shard copy or a burst of replication on the same link for longer than
// LinkFailAfter while that link carries answered calls all along, and a
// node must not be failed over for being busy. Only answers count: a call
// that fails or is never answered proves nothing either way.
type answeredLinks struct {
	Links
	health *linkHealth
	now    func() time.Time
}

func (l answeredLinks) Call(ctx context.Context, peer, method string, req, resp any) error {
	err := l.Links.Call(ctx, peer, method, req, resp)
	if err == nil {
		l.health.answered(peer, l.now())
	}
	return err
}

// heartbeatLoop calls every live peer over the links each
// HeartbeatInterval; the answers feed linkHealth. A call may take up to
// LinkFailAfter and the next ones to other peers do not wait for it: on a
// loaded link (a shard copy, a starved CPU) pings are answered late, not
// never, and a late answer still proves the link works. Only a link that
// answers nothing for LinkFailAfter is unreachable.
func (n *Node) heartbeatLoop() {
	if n.cfg.LinkFailAfter <= 0 {
		return
	}
	t := time.NewTicker(n.cfg.HeartbeatInterval)
	defer t.Stop()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		inFlight = map[string]bool{}
	)
	defer wg.Wait()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		for _, m := range n.mem.Members() {
			if m.Name == n.name || (m.Status != "alive" && m.Status != "") {
				continue
			}
			n.health.seen(m.Name, n.cfg.Now())
			mu.Lock()
			busy := inFlight[m.Name]
			inFlight[m.Name] = true
			mu.Unlock()
			if busy {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { mu.Lock(); delete(inFlight, m.Name); mu.Unlock() }()
				ctx, cancel := context.WithTimeout(n.ctx, n.cfg.LinkFailAfter)
				defer cancel()
				if err := n.links.Call(ctx, m.Name, methodPing, struct{}{}, nil); err == nil {
					n.health.ok(m.Name, n.cfg.Now())
				}
			}()
		}
	}
}
