package link

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/shardgate/shardgate"
)

// Dial backoff after consecutive failures: 50ms, 100ms, ... up to 2s. Calls
// during the wait fail at once with the last dial error, so a dead peer
// costs callers nothing but an error, and a restarted one is found again
// within two seconds.
const (
	backoffMin = 50 * time.Millisecond
	backoffMax = 2 * time.Second
)

// peer is the outbound side of one peer at one address. SetPeer with a new
// address and RemovePeer replace or drop the struct, so a dial that finishes
// for a struct no longer in m.peers knows its result is stale.
type peer struct {
	name, addr string
	conn       *conn        // live connection, nil when none
	dial       *dialAttempt // dial in progress, nil when none
	failures   int          // consecutive failed dials
	retryAt    time.Time    // no new dial before this
	lastErr    error
}

// dialAttempt lets every caller that needs the connection wait for one dial.
type dialAttempt struct {
	done   chan struct{} // closed when conn or err is set
	cancel context.CancelFunc
	conn   *conn
	err    error
}

// SetPeer records the public listener address (host:port) of a peer.
// Changing the address of a known peer drops its connection; calls waiting
// on it fail with KindUnavailable and the next call dials the new address.
func (m *Mesh) SetPeer(name, addr string) {
	m.mu.Lock()
	p := m.peers[name]
	if m.closed || (p != nil && p.addr == addr) {
		m.mu.Unlock()
		return
	}
	m.peers[name] = &peer{name: name, addr: addr}
	m.mu.Unlock()
	if p != nil {
		m.drop(p, "address of %s changed", name)
	}
}

// RemovePeer forgets a peer: its connections in both directions close and
// calls waiting on them fail with KindUnavailable. The peer may dial in
// again; with authentication that needs the cluster key.
func (m *Mesh) RemovePeer(name string) {
	m.mu.Lock()
	p := m.peers[name]
	delete(m.peers, name)
	in := m.inbound[name]
	m.mu.Unlock()
	if p != nil {
		m.drop(p, "peer %s removed", name)
	}
	if in != nil {
		in.close(shardgate.Errorf(shardgate.KindUnavailable, "peer %s removed", name))
	}
}

// drop closes a detached peer's connection and abandons its dial.
func (m *Mesh) drop(p *peer, format string, args ...any) {
	m.mu.Lock()
	c, a := p.conn, p.dial
	m.mu.Unlock()
	if a != nil {
		a.cancel()
	}
	if c != nil {
		c.close(shardgate.Errorf(shardgate.KindUnavailable, format, args...))
	}
}

// connFor returns the live connection to a peer, dialing if there is none.
// It never waits longer than one dial, and not at all while backing off.
func (m *Mesh) connFor(ctx context.Context, name string) (*conn, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, shardgate.Errorf(shardgate.KindUnavailable, "%w", ErrClosed)
	}
	p := m.peers[name]
	switch {
	case p == nil:
		m.mu.Unlock()
		return nil, shardgate.Errorf(shardgate.KindUnavailable, "no address known for peer %s", name)
	case p.conn != nil:
		c := p.conn
		m.mu.Unlock()
		return c, nil
	}
	a := p.dial
	if a == nil {
		if !m.allowed(m.cfg.Name, name) || !m.allowed(name, m.cfg.Name) {
			m.mu.Unlock()
			return nil, shardgate.Errorf(shardgate.KindUnavailable, "link to %s is blocked", name)
		}
		if wait := p.retryAt.Sub(m.cfg.Now()); wait > 0 {
			err := &shardgate.Error{Kind: shardgate.KindOf(p.lastErr), Err: p.lastErr,
				Message: "peer " + name + " unreachable, next dial in " + wait.Round(time.Millisecond).String()}
			m.mu.Unlock()
			return nil, err
		}
		a = m.startDial(p)
	}
	m.mu.Unlock()
	select {
	case <-a.done:
		return a.conn, a.err
	case <-ctx.Done():
		return nil, shardgate.Errorf(shardgate.KindUnavailable, "connecting to %s: %w", name, ctx.Err())
	}
}

// startDial begins one dial in its own goroutine. Callers hold m.mu and have
// checked m.closed.
func (m *Mesh) startDial(p *peer) *dialAttempt {
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.DialTimeout)
	a := &dialAttempt{done: make(chan struct{}), cancel: cancel}
	p.dial = a
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer cancel()
		c, err := m.dial(ctx, p.name, p.addr)
		m.finishDial(p, a, c, err)
	}()
	return a
}

// finishDial installs a new connection, or records the failure for backoff.
func (m *Mesh) finishDial(p *peer, a *dialAttempt, c *conn, err error) {
	m.mu.Lock()
	if p.dial == a {
		p.dial = nil
	}
	var stale *conn
	switch {
	case err == nil && (m.closed || m.peers[p.name] != p):
		stale, c = c, nil
		err = shardgate.Errorf(shardgate.KindUnavailable, "peer %s was removed or moved while dialing", p.name)
	case err != nil:
		p.failures++
		p.lastErr = err
		p.retryAt = m.cfg.Now().Add(min(backoffMin<<min(p.failures-1, 8), backoffMax))
	default:
		p.conn, p.failures, p.retryAt, p.lastErr = c, 0, time.Time{}, nil
		m.start(c)
	}
	failures := p.failures
	a.conn, a.err = c, err
	m.mu.Unlock()
	close(a.done)

	switch {
	case stale != nil:
		stale.ws.Close() // never started: no goroutines to stop
	case err == nil:
		m.log.Info("link: connected", "peer", p.name, "addr", p.addr)
	case failures == 1: // log the change of state, not every retry
		m.log.Warn("link: dial failed", "peer", p.name, "addr", p.addr, "err", err)
	default:
		m.log.Debug("link: dial failed", "peer", p.name, "addr", p.addr, "failures", failures, "err", err)
	}
}

// dial opens and authenticates one connection; it is not yet started.
func (m *Mesh) dial(ctx context.Context, name, addr string) (*conn, error) {
	hdr, nonce := m.dialHeaders(name)
	u := url.URL{Scheme: "ws", Host: addr, Path: m.cfg.Path}
	if m.cfg.TLS != nil {
		u.Scheme = "wss"
	}
	ws, resp, err := m.dialer.DialContext(ctx, u.String(), hdr)
	if err != nil {
		switch {
		case resp != nil && resp.StatusCode == http.StatusUnauthorized:
			return nil, shardgate.Errorf(shardgate.KindUnauthorized,
				"peer %s at %s refused our credentials (different cluster key, or clocks more than 60s apart)", name, addr)
		case resp != nil && resp.StatusCode == http.StatusMisdirectedRequest:
			return nil, shardgate.Errorf(shardgate.KindUnavailable,
				"the node at %s says it is %q, not %q (stale address?)", addr, resp.Header.Get(headerNode), name)
		case resp != nil && resp.StatusCode == http.StatusForbidden:
			// Retryable: gossip may not have told the peer about us yet.
			return nil, shardgate.Errorf(shardgate.KindUnavailable,
				"peer %s at %s does not count us as a member yet", name, addr)
		case resp != nil:
			return nil, shardgate.Errorf(shardgate.KindUnavailable,
				"peer %s at %s refused the link: %s", name, addr, resp.Status)
		}
		return nil, shardgate.Errorf(shardgate.KindUnavailable, "dial %s at %s: %w", name, addr, err)
	}
	if err := m.checkAcceptor(resp.Header, name, nonce); err != nil {
		ws.Close()
		return nil, err
	}
	return newConn(m, ws, name, true, answeredCodec(resp.Header, m.codec.Load())), nil
}
