package faultnet

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// cutDialWait is how long a dial across a cut hangs before it times out.
// A real blackholed SYN waits for the caller's whole timeout; a shorter wait
// keeps real-time tests quick while still looking like a timeout to the
// caller, which is what memberlist's fallback paths react to.
const cutDialWait = 100 * time.Millisecond

// packetQueue is how many packets a transport buffers before it drops, the
// way a full socket buffer would.
const packetQueue = 1024

// Network is a set of transports and the rules that decide which of them
// can reach each other. The zero value is not usable; call New.
type Network struct {
	mu         sync.Mutex
	transports map[string]*transport // by "ip:port"
	cuts       map[link]struct{}     // directed: from → to is dropped
	isolated   map[string]struct{}
	pairs      map[*pair]struct{} // open streams
}

// link is one direction between two rule endpoints.
type link struct{ from, to string }

// New returns an empty network with no rules.
func New() *Network {
	return &Network{
		transports: make(map[string]*transport),
		cuts:       make(map[link]struct{}),
		isolated:   make(map[string]struct{}),
		pairs:      make(map[*pair]struct{}),
	}
}

// Transport creates the endpoint for addr, an "ip:port" address, to be set
// as memberlist's Config.Transport. An address may be reused once the
// transport that held it was shut down, which is how a test restarts a node.
// It panics on a malformed address or one still in use: both are mistakes in
// the test, not conditions to handle.
func (n *Network) Transport(addr string) memberlist.NodeAwareTransport {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		panic(fmt.Sprintf("faultnet: address %q: %v", addr, err))
	}
	ip := net.ParseIP(host)
	port, err := strconv.Atoi(portStr)
	if ip == nil || err != nil || port <= 0 || port > 65535 {
		panic(fmt.Sprintf("faultnet: address %q is not an ip:port pair", addr))
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if old, ok := n.transports[addr]; ok && !old.isShut() {
		panic(fmt.Sprintf("faultnet: address %s is already in use", addr))
	}
	t := &transport{
		net:      n,
		addr:     addr,
		ip:       ip,
		port:     port,
		packetCh: make(chan *memberlist.Packet, packetQueue),
		streamCh: make(chan net.Conn),
		done:     make(chan struct{}),
	}
	n.transports[addr] = t
	return t
}

// Cut drops all traffic between a and b, both ways.
func (n *Network) Cut(a, b string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cuts[link{a, b}] = struct{}{}
	n.cuts[link{b, a}] = struct{}{}
	n.breakForbiddenLocked()
}

// CutOneWay drops traffic from → to and lets to → from through. Streams need
// both directions, so they break and cannot be opened either way.
func (n *Network) CutOneWay(from, to string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cuts[link{from, to}] = struct{}{}
	n.breakForbiddenLocked()
}

// Isolate drops all traffic to and from a.
func (n *Network) Isolate(a string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.isolated[a] = struct{}{}
	n.breakForbiddenLocked()
}

// Heal removes every rule. Streams broken earlier stay broken; new ones can
// be opened.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.cuts)
	clear(n.isolated)
}

// Allowed reports whether traffic from → to currently passes. Both are
// "ip:port" addresses; any link layer can ask before it delivers, so one set
// of rules governs gossip and data alike.
func (n *Network) Allowed(from, to string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.allowedLocked(from, to)
}

func (n *Network) allowedLocked(from, to string) bool {
	fromKeys, toKeys := ruleKeys(from), ruleKeys(to)
	for _, f := range fromKeys {
		if _, ok := n.isolated[f]; ok {
			return false
		}
	}
	for _, t := range toKeys {
		if _, ok := n.isolated[t]; ok {
			return false
		}
	}
	for _, f := range fromKeys {
		for _, t := range toKeys {
			if _, ok := n.cuts[link{f, t}]; ok {
				return false
			}
		}
	}
	return true
}

// ruleKeys lists the rule endpoints that match addr: the address itself and,
// when it has a port, its bare host.
func ruleKeys(addr string) []string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return []string{addr, host}
	}
	return []string{addr}
}

// lookup returns the live transport at addr, or nil.
func (n *Network) lookupLocked(addr string) *transport {
	t, ok := n.transports[addr]
	if !ok || t.isShut() {
		return nil
	}
	return t
}

// breakForbiddenLocked closes every open stream the rules no longer allow.
func (n *Network) breakForbiddenLocked() {
	for p := range n.pairs {
		if !n.allowedLocked(p.dialer, p.listener) || !n.allowedLocked(p.listener, p.dialer) {
			delete(n.pairs, p)
			p.close()
		}
	}
}

// closeStreamsOfLocked closes every open stream with an end at addr.
func (n *Network) closeStreamsOfLocked(addr string) {
	for p := range n.pairs {
		if p.dialer == addr || p.listener == addr {
			delete(n.pairs, p)
			p.close()
		}
	}
}

func (n *Network) forget(p *pair) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.pairs, p)
}
