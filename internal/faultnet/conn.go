package faultnet

import (
	"net"
	"sync"
)

// pair is one open stream: the two ends of a net.Pipe, tracked by the
// network so that a new rule or a shutdown can break it.
type pair struct {
	net         *Network
	dialer      string // address of the dialing transport
	listener    string // address of the accepting transport
	rawA, rawB  net.Conn
	dialerEnd   *conn
	listenerEnd *conn
}

// newPair registers a stream from → to, unless a rule forbids it: the check
// and the registration share one critical section, so a rule added
// concurrently either refuses the stream here or breaks it later. The
// dialer's local address reuses its gossip address: memberlist only logs
// it, and it keeps the rules keyed by one address per node.
func (n *Network) newPair(from, to *transport) (*pair, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.allowedLocked(from.addr, to.addr) || !n.allowedLocked(to.addr, from.addr) {
		return nil, false
	}
	a, b := net.Pipe()
	p := &pair{net: n, dialer: from.addr, listener: to.addr, rawA: a, rawB: b}
	p.dialerEnd = &conn{Conn: a, pair: p, local: from.tcpAddr(), remote: to.tcpAddr()}
	p.listenerEnd = &conn{Conn: b, pair: p, local: to.tcpAddr(), remote: from.tcpAddr()}
	n.pairs[p] = struct{}{}
	return p, true
}

// close breaks both ends. Callers hold the network lock, so it must not call
// back into the network.
func (p *pair) close() {
	_ = p.rawA.Close()
	_ = p.rawB.Close()
}

func (p *pair) closeAndForget() {
	p.close()
	p.net.forget(p)
}

// conn is one end of a pair with TCP-looking addresses: memberlist logs
// RemoteAddr and net.Pipe's "pipe" would make those logs useless.
type conn struct {
	net.Conn
	pair          *pair
	local, remote net.Addr
	closeOnce     sync.Once
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

// Close closes this end; the peer then reads EOF, as after a TCP close. The
// pair stops being tracked once either end is closed.
func (c *conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		err = c.Conn.Close()
		c.pair.net.forget(c.pair)
	})
	return err
}
