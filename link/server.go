package link

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// ServeHTTP accepts a peer's link. The caller mounts it at cfg.Path on the
// public listener. With a cluster key the dialer must sign its handshake
// (401 otherwise); the answer carries this node's own proof.
func (m *Mesh) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		http.Error(w, "link: node shutting down", http.StatusServiceUnavailable)
		return
	}
	if m.cfg.TLS != nil && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || r.TLS.ServerName != ServerName) {
		m.log.Warn("link: refused peer", "remote", r.RemoteAddr, "claimed", r.Header.Get(headerNode),
			"reason", "links must use TLS with a cluster certificate")
		http.Error(w, "link: TLS with a cluster certificate required", http.StatusForbidden)
		return
	}
	name, hdr, no := m.checkDialer(r)
	if no != nil {
		m.log.Warn("link: refused peer", "remote", r.RemoteAddr, "claimed", r.Header.Get(headerNode), "reason", no.reason)
		if no.status == http.StatusMisdirectedRequest {
			w.Header().Set(headerNode, m.cfg.Name) // the dialer's key verified: it may learn who we are
		}
		http.Error(w, "link: refused", no.status)
		return
	}
	// Checked after the signature, so only key holders learn whom the
	// membership admits.
	if m.cfg.Member != nil && !m.awaitMember(r.Context(), name) {
		m.log.Warn("link: refused peer", "remote", r.RemoteAddr, "claimed", name, "reason", "not a member of the cluster")
		http.Error(w, "link: not a member", http.StatusForbidden)
		return
	}
	if !m.allowed(name, m.cfg.Name) || !m.allowed(m.cfg.Name, name) {
		http.Error(w, "link: blocked", http.StatusServiceUnavailable)
		return
	}
	codec := pickCodec(r.Header.Get(headerCodec), m.codec.Load())
	if codec > codecJSON {
		hdr.Set(headerCodec, strconv.Itoa(int(codec)))
	}
	ws, err := m.upgrader.Upgrade(w, r, hdr)
	if err != nil {
		return // Upgrade has answered with an HTTP error
	}
	c := newConn(m, ws, name, false, codec)

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		ws.Close()
		return
	}
	// A peer keeps one outbound connection to us and closes it before
	// dialing again, so an older connection from the same name is dead
	// even if TCP has not noticed yet.
	old := m.inbound[name]
	m.inbound[name] = c
	m.start(c)
	m.mu.Unlock()

	if old != nil {
		old.close(errReplaced)
	}
	m.log.Info("link: accepted", "peer", name, "remote", r.RemoteAddr)
}

// memberWait is how long an authenticated dialer that gossip does not know
// yet is given to appear: a node that just joined dials its peers before
// gossip has told all of them about it.
const memberWait = time.Second

// awaitMember reports whether name is, or within memberWait becomes, a
// member. Only dialers whose signature verified get here, so a stranger
// cannot make the node wait.
func (m *Mesh) awaitMember(ctx context.Context, name string) bool {
	if m.cfg.Member(name) {
		return true
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	deadline := time.NewTimer(memberWait)
	defer deadline.Stop()
	for {
		select {
		case <-t.C:
			if m.cfg.Member(name) {
				return true
			}
		case <-deadline.C:
			return false
		case <-ctx.Done():
			return false
		case <-m.ctx.Done():
			return false
		}
	}
}
