package cluster

import (
	"math/rand/v2"
	"time"
)

// peerBook remembers every peer ever seen, by name, with its last address,
// so that the re-join loop can reach peers memberlist has forgotten. Guarded
// by Cluster.mu.
type peerBook struct {
	byName map[string]*peer
}

type peer struct {
	addr string
	// left: the peer said goodbye; it is not re-joined until it shows up
	// again by itself.
	left bool
	// since is when the peer was last seen alive or when it departed.
	since time.Time
}

func newPeerBook() *peerBook { return &peerBook{byName: make(map[string]*peer)} }

// seen records a live peer. A node that restarted at a new address replaces
// its old address here.
func (b *peerBook) seen(name, addr string, now time.Time) {
	b.byName[name] = &peer{addr: addr, since: now}
}

// departed records that a peer died or left.
func (b *peerBook) departed(name string, left bool, now time.Time) {
	p, ok := b.byName[name]
	if !ok {
		return
	}
	p.left = left
	p.since = now
}

// absent returns, in random order, the addresses of peers that failed (not
// left) within forgetAfter and are not alive now. Peers failed for longer
// are forgotten.
func (b *peerBook) absent(alive map[string]Member, now time.Time, forgetAfter time.Duration) []string {
	var out []string
	for name, p := range b.byName {
		if _, ok := alive[name]; ok {
			continue
		}
		if now.Sub(p.since) > forgetAfter {
			delete(b.byName, name)
			continue
		}
		if !p.left {
			out = append(out, p.addr)
		}
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
