package link

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shardgate/shardgate"
)

// Handshake headers. The dialer proves it holds the cluster key by signing
// its name, the name of the node it means to reach, a timestamp and a fresh
// nonce; the acceptor proves the same by signing its own name and the
// dialer's nonce, so a node never sends requests to an impostor that merely
// answers on the right address. Binding the target matters because each
// node keeps its own nonce cache: without it a handshake captured on its way
// to one node could be replayed to every other node within the skew window.
const (
	headerNode   = "X-Shardgate-Node"
	headerTarget = "X-Shardgate-Target"
	headerTime   = "X-Shardgate-Time"
	headerNonce  = "X-Shardgate-Nonce"
	headerAuth   = "X-Shardgate-Auth"
	headerProof  = "X-Shardgate-Proof"
	// headerCluster names the cluster the sender belongs to, once it
	// knows (see Config.Cluster).
	headerCluster = "X-Shardgate-Cluster"

	// maxSkew bounds the clock difference between two nodes, and with the
	// nonce cache the window in which a captured handshake could be replayed.
	maxSkew = 60 * time.Second
	// maxNonceLen keeps a hostile dialer from filling the nonce cache with
	// large strings.
	maxNonceLen = 64
)

// sign is base64(HMAC-SHA256(key, role|f1|f2...)). The role prefix keeps a
// dialer's signature and an acceptor's proof from ever being mistaken for
// one another, whatever the names contain.
func sign(key []byte, role string, fields ...string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(role))
	for _, f := range fields {
		h.Write([]byte{'|'})
		h.Write([]byte(f))
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func verify(key []byte, got, role string, fields ...string) bool {
	return hmac.Equal([]byte(got), []byte(sign(key, role, fields...)))
}

// dialHeaders returns the headers for one dial to peer and the nonce the
// acceptor must sign in reply.
func (m *Mesh) dialHeaders(peer string) (http.Header, string) {
	h := http.Header{}
	h.Set(headerNode, m.cfg.Name)
	h.Set(headerTarget, peer)
	if id := m.cluster(); id != "" {
		h.Set(headerCluster, id)
	}
	if offer := offerCodecs(m.codec.Load()); offer != "" {
		h.Set(headerCodec, offer)
	}
	if len(m.cfg.ClusterKey) == 0 {
		return h, ""
	}
	ts := strconv.FormatInt(m.cfg.Now().UnixMilli(), 10)
	nonce := rand.Text() // 128 bits from crypto/rand
	h.Set(headerTime, ts)
	h.Set(headerNonce, nonce)
	h.Set(headerAuth, sign(m.cfg.ClusterKey, "dial", m.cfg.Name, peer, ts, nonce))
	return h, nonce
}

// refusal says why a dial was refused: reason for the log, status for the
// dialer, which learns nothing more.
type refusal struct {
	status int
	reason string
}

// checkDialer authenticates an incoming dial and returns the dialer's name
// and the headers to send back (this node's name and proof).
func (m *Mesh) checkDialer(r *http.Request) (name string, resp http.Header, no *refusal) {
	unauthorized := func(reason string) (string, http.Header, *refusal) {
		return "", nil, &refusal{http.StatusUnauthorized, reason}
	}
	name, target := r.Header.Get(headerNode), r.Header.Get(headerTarget)
	if name == "" || len(name) > shardgate.MaxKeyBytes || len(target) > shardgate.MaxKeyBytes {
		return unauthorized("missing or oversized node name")
	}
	key := m.cfg.ClusterKey
	if len(key) > 0 {
		ts, nonce, mac := r.Header.Get(headerTime), r.Header.Get(headerNonce), r.Header.Get(headerAuth)
		if ts == "" || nonce == "" || mac == "" || len(nonce) > maxNonceLen {
			return unauthorized("missing authentication headers")
		}
		ms, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || strings.HasPrefix(ts, "+") {
			return unauthorized("malformed timestamp")
		}
		now := m.cfg.Now()
		if skew := now.Sub(time.UnixMilli(ms)); skew > maxSkew || skew < -maxSkew {
			return unauthorized("timestamp outside ±60s (clock skew or replay)")
		}
		// Verified against the target the dialer names, so that a key
		// holder dialing a stale address is told so (421) instead of
		// hearing that its key is wrong.
		if !verify(key, mac, "dial", name, target, ts, nonce) {
			return unauthorized("signature does not verify (wrong cluster key?)")
		}
		if target != m.cfg.Name {
			return "", nil, &refusal{http.StatusMisdirectedRequest,
				"handshake is addressed to " + strconv.Quote(target) + " (replayed, or a stale address)"}
		}
		// Only verified nonces are remembered, so strangers cannot grow the set.
		if !m.nonces.add(nonce, now) {
			return unauthorized("nonce already used (replayed handshake)")
		}
	} else if target != m.cfg.Name {
		return "", nil, &refusal{http.StatusMisdirectedRequest,
			"handshake is addressed to " + strconv.Quote(target) + " (a stale address?)"}
	}
	if mine, theirs := m.cluster(), r.Header.Get(headerCluster); mine != "" && theirs != "" && theirs != mine {
		return "", nil, &refusal{http.StatusForbidden, "the dialer belongs to cluster " + strconv.Quote(theirs) +
			", this node to " + strconv.Quote(mine) + " (a node of another cluster that took over a peer's address?)"}
	}
	resp = http.Header{}
	resp.Set(headerNode, m.cfg.Name)
	if id := m.cluster(); id != "" {
		resp.Set(headerCluster, id)
	}
	if len(key) > 0 {
		resp.Set(headerProof, sign(key, "accept", m.cfg.Name, r.Header.Get(headerNonce)))
	}
	return name, resp, nil
}

// checkAcceptor verifies that the node that answered is the one we meant to
// reach and, with a cluster key, that it holds the key too.
func (m *Mesh) checkAcceptor(h http.Header, peer, nonce string) error {
	if got := h.Get(headerNode); got != peer {
		return shardgate.Errorf(shardgate.KindUnavailable,
			"the node at that address says it is %q, not %q (stale address?)", got, peer)
	}
	if mine, theirs := m.cluster(), h.Get(headerCluster); mine != "" && theirs != "" && theirs != mine {
		return shardgate.Errorf(shardgate.KindUnavailable,
			"the node %s at that address belongs to cluster %q, this node to %q (a node of another cluster that took over the peer's address?)", peer, theirs, mine)
	}
	if len(m.cfg.ClusterKey) == 0 {
		return nil
	}
	if !verify(m.cfg.ClusterKey, h.Get(headerProof), "accept", peer, nonce) {
		return shardgate.Errorf(shardgate.KindUnauthorized,
			"peer %s did not prove it holds the cluster key", peer)
	}
	return nil
}

// nonceSet remembers nonces of accepted handshakes for as long as their
// timestamps could still pass the skew check.
type nonceSet struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (s *nonceSet) add(nonce string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = make(map[string]time.Time)
	}
	if _, dup := s.seen[nonce]; dup {
		return false
	}
	if len(s.seen) >= 1024 {
		for n, at := range s.seen {
			if now.Sub(at) > 2*maxSkew {
				delete(s.seen, n)
			}
		}
	}
	s.seen[nonce] = now
	return true
}

// cluster is the identity of this node's cluster, "" while unknown.
func (m *Mesh) cluster() string {
	if m.cfg.Cluster == nil {
		return ""
	}
	return m.cfg.Cluster()
}
