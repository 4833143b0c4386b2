package node

import (
	"log/slog"
	"slices"
	"time"
)

// A cut between two nodes that both still reach everyone else gives
// neither a majority against it: with three nodes and the link between
// n1 and n2 cut, only n1 calls n2 unreachable and only n2 calls n1. The
// shards those two share (home on one, backup on the other) then take no
// write until the cut heals, since a batch cannot reach its backup.
//
// The tie is broken by rank: a peer is also treated as failed when a
// member that outranks it (older incarnation, ties by name: the order the
// coordinator is chosen by) calls it unreachable while that member itself
// still reaches a majority. Rank is a total order, so of the two ends of a
// cut only the younger is failed over, never both, and every node that
// holds the older end's report reaches the same answer. The younger end
// cannot hear that report over the cut, so it reaches the answer on its
// own: it cannot reach an elder that a third member still reaches, so it
// is the end being failed over, and it refuses writes at once instead of
// acting as a home with a table that is no longer in force. When the cut
// heals its peers reach it again and it all undoes itself.
//
// Only cuts count: links that worked and stopped. A node that has just
// joined, whose links some member has not reached yet, is not failed over
// by one member's report (a majority still can, as before).

// startedAt maps every member to its incarnation's start, the rank order.
func (n *Node) startedAt() map[string]int64 {
	started := map[string]int64{}
	for _, m := range n.mem.Members() {
		started[m.Name] = m.Meta.StartedAt
	}
	return started
}

// outranks says whether a comes before b in the coordinator's order.
func outranks(started map[string]int64, a, b string) bool {
	ta, oka := started[a]
	tb, okb := started[b]
	return oka && okb && (ta < tb || ta == tb && a < b)
}

// cutFromElder says whether this node is the younger end of a cut: it
// cannot reach a member that outranks it while a third member's fresh
// report says that member is reachable.
func (n *Node) cutFromElder(members []string) bool {
	now := n.cfg.Now()
	own := n.health.cut(now, n.cfg.LinkFailAfter)
	if len(own) == 0 {
		n.health.noteTie(n.log, "self", "", false)
		return false
	}
	started := n.startedAt()
	for _, elder := range own {
		if !slices.Contains(members, elder) || !outranks(started, elder, n.name) {
			continue
		}
		if n.health.witnessed(elder, n.name, members, now, 3*n.cfg.LinkFailAfter) {
			n.health.noteTie(n.log, "self", elder, true)
			return true
		}
	}
	n.health.noteTie(n.log, "self", "", false)
	return false
}

// witnessed says whether some member other than self and peer has a fresh
// report that does not list peer as unreachable.
func (h *linkHealth) witnessed(peer, self string, members []string, now time.Time, fresh time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range members {
		if m == self || m == peer {
			continue
		}
		if r, ok := h.reports[m]; ok && now.Sub(r.at) <= fresh && !r.peers[peer] {
			return true
		}
	}
	return false
}

// outranked says whether a member that outranks peer and reaches a
// majority cannot reach peer (this node's own calls count as its report).
func (n *Node) outranked(peer string, members []string, now time.Time) bool {
	if !n.health.suspect(peer, now, n.cfg.LinkFailAfter, 3*n.cfg.LinkFailAfter) {
		// Asked on every quorum check: no rank map while nothing is cut.
		n.health.noteTie(n.log, peer, "", false)
		return false
	}
	started := n.startedAt()
	above := func(a, b string) bool { return outranks(started, a, b) }
	majority := len(members)/2 + 1
	inTable := map[string]bool{}
	for _, m := range members {
		inTable[m] = true
	}
	// reaches says whether a reporter that cannot reach `cut` still
	// reaches a majority of the table (itself included).
	reaches := func(cut []string) bool {
		c := 0
		for _, p := range cut {
			if inTable[p] {
				c++
			}
		}
		return len(members)-c >= majority
	}
	if inTable[n.name] && above(n.name, peer) {
		own := n.health.cut(now, n.cfg.LinkFailAfter)
		if slices.Contains(own, peer) && reaches(n.health.unreachable(now, n.cfg.LinkFailAfter)) {
			n.health.noteTie(n.log, peer, n.name, true)
			return true
		}
	}
	for _, r := range n.health.reportersOf(peer, now, 3*n.cfg.LinkFailAfter) {
		if r.from != n.name && r.from != peer && inTable[r.from] && above(r.from, peer) && reaches(r.cut) {
			n.health.noteTie(n.log, peer, r.from, true)
			return true
		}
	}
	n.health.noteTie(n.log, peer, "", false)
	return false
}

// noteTie logs when the tie-break starts or stops treating peer ("self":
// this node) as failed, once per change: it is asked on every quorum check.
func (h *linkHealth) noteTie(log *slog.Logger, peer, elder string, failed bool) {
	h.mu.Lock()
	was := h.tied[peer]
	if h.tied == nil {
		h.tied = map[string]bool{}
	}
	h.tied[peer] = failed
	if peer == "self" {
		h.selfElder = elder
	}
	h.mu.Unlock()
	switch {
	case failed && !was && peer == "self":
		log.Warn("node links: cut from an elder that others reach; refusing writes as the younger end of the cut", "elder", elder)
	case failed && !was:
		log.Warn("node links: peer treated as failed: an elder that reaches a majority cannot reach it", "peer", peer, "elder", elder)
	case !failed && was:
		log.Info("node links: cut between two nodes over", "peer", peer)
	}
}

// cutFromElderNamed is the elder this node was last found cut from while
// that elder reaches a majority ("" when it is not cut from one).
func (h *linkHealth) cutFromElderNamed() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.tied["self"] {
		return ""
	}
	return h.selfElder
}

// reporterCut is one fresh report that names the peer asked about.
type reporterCut struct {
	from string
	cut  []string
}

// reportersOf returns the fresh reports whose cuts include peer, each
// with every peer that reporter cannot reach (for its majority).
func (h *linkHealth) reportersOf(peer string, now time.Time, fresh time.Duration) []reporterCut {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []reporterCut
	for from, c := range h.cuts {
		r, ok := h.reports[from]
		if now.Sub(c.at) > fresh || !c.peers[peer] || !ok {
			continue
		}
		rc := reporterCut{from: from}
		for p := range r.peers {
			rc.cut = append(rc.cut, p)
		}
		out = append(out, rc)
	}
	return out
}

// suspect says whether the tie-break could fail peer at all: this node's
// calls to it worked once and have stopped, or a fresh cut report names it.
// When it is false, outranked is false without working out ranks.
func (h *linkHealth) suspect(peer string, now time.Time, failAfter, fresh time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if at, ok := h.lastOK[peer]; ok && now.Sub(at) > failAfter && h.reached[peer] {
		return true
	}
	if h.cutting == 0 {
		return false // no cut report names anyone: the usual case
	}
	for _, c := range h.cuts {
		if now.Sub(c.at) <= fresh && c.peers[peer] {
			return true
		}
	}
	return false
}

// cut lists the unreachable peers a call did succeed with once.
func (h *linkHealth) cut(now time.Time, failAfter time.Duration) []string {
	var out []string
	for _, p := range h.unreachable(now, failAfter) {
		h.mu.Lock()
		ok := h.reached[p]
		h.mu.Unlock()
		if ok {
			out = append(out, p)
		}
	}
	return out
}

func (h *linkHealth) setCut(from string, peers []string, at time.Time) {
	set := make(map[string]bool, len(peers))
	for _, p := range peers {
		set[p] = true
	}
	h.mu.Lock()
	if h.cuts == nil {
		h.cuts = map[string]report{}
	}
	if len(h.cuts[from].peers) > 0 {
		h.cutting--
	}
	if len(set) > 0 {
		h.cutting++
	}
	h.cuts[from] = report{peers: set, at: at}
	h.mu.Unlock()
}
