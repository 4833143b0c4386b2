package link

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shardgate/shardgate"
)

const (
	key1 = "0123456789abcdef0123456789abcdef"
	key2 = "fedcba9876543210fedcba9876543210"
)

// countingHandler counts requests, to prove that refused links carry none.
type countingHandler struct{ n atomic.Int64 }

func (h *countingHandler) HandleLink(context.Context, string, string, json.RawMessage) (any, error) {
	h.n.Add(1)
	return "ok", nil
}

// handshake builds dialer headers by hand so tests can spoil each part.
func handshake(key, name, target string, at time.Time, nonce string) http.Header {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	h := http.Header{}
	h.Set(headerNode, name)
	h.Set(headerTarget, target)
	h.Set(headerTime, ts)
	h.Set(headerNonce, nonce)
	h.Set(headerAuth, sign([]byte(key), "dial", name, target, ts, nonce))
	return h
}

func TestHandshakeRejectsBadCredentials(t *testing.T) {
	b := mustNode(t, "b", echoHandler, nil, withKey(key1))
	url := "ws://" + b.addr + "/internal/link"
	now := time.Now()
	dial := func(h http.Header) (*http.Response, error) {
		ws, resp, err := (&websocket.Dialer{}).Dial(url, h) // no proxy from the environment
		if ws != nil {
			ws.Close()
		}
		return resp, err
	}
	tamper := func(h http.Header, k, v string) http.Header { h.Set(k, v); return h }

	for name, h := range map[string]http.Header{
		"no headers":    nil,
		"name only":     {headerNode: {"a"}},
		"wrong key":     handshake(key2, "a", "b", now, "n1"),
		"forged name":   tamper(handshake(key1, "a", "b", now, "n2"), headerNode, "admin"),
		"altered nonce": tamper(handshake(key1, "a", "b", now, "n3"), headerNonce, "n4"),
		"bad mac":       tamper(handshake(key1, "a", "b", now, "n5"), headerAuth, "AAAA"),
		"stale":         handshake(key1, "a", "b", now.Add(-2*time.Minute), "n6"),
		"future":        handshake(key1, "a", "b", now.Add(2*time.Minute), "n7"),
		"retargeted":    tamper(handshake(key1, "a", "c", now, "n9"), headerTarget, "b"),
		"no target":     tamper(handshake(key1, "a", "b", now, "n10"), headerTarget, ""),
	} {
		resp, err := dial(h)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: got %v, %v; want 401", name, resp, err)
		}
	}

	good := handshake(key1, "a", "b", now, "fresh-nonce")
	resp, err := dial(good)
	if err != nil {
		t.Fatalf("valid handshake refused: %v", err)
	}
	if !verify([]byte(key1), resp.Header.Get(headerProof), "accept", "b", "fresh-nonce") {
		t.Fatalf("acceptor proof %q does not verify", resp.Header.Get(headerProof))
	}
	if resp, err := dial(good); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replayed handshake: %v, %v; want 401", resp, err)
	}
}

func TestWrongClusterKeyBothWays(t *testing.T) {
	ha, hb := &countingHandler{}, &countingHandler{}
	a := mustNode(t, "a", ha, nil, withKey(key1))
	b := mustNode(t, "b", hb, nil, withKey(key2))
	link(a, b)
	ctx := ctxTimeout(t, 5*time.Second)
	mustKind(t, a.m.Call(ctx, "b", "x", nil, nil), shardgate.KindUnauthorized)
	mustKind(t, b.m.Call(ctx, "a", "x", nil, nil), shardgate.KindUnauthorized)
	// A dialer without a key is refused by a node that has one.
	c := mustNode(t, "c", nil, nil)
	c.m.SetPeer("a", a.addr)
	mustKind(t, c.m.Call(ctx, "a", "x", nil, nil), shardgate.KindUnauthorized)
	if ha.n.Load()+hb.n.Load() != 0 {
		t.Fatalf("refused links carried %d requests", ha.n.Load()+hb.n.Load())
	}
	// The same key on both sides works, and the handler learns who called.
	d := mustNode(t, "d", echoHandler, nil, withKey(key1))
	a.m.SetPeer("d", d.addr)
	var got echoReply
	if err := a.m.Call(ctx, "d", "x", nil, &got); err != nil || got.From != "a" {
		t.Fatalf("same key: %+v, %v", got, err)
	}
}

func TestDialerRejectsAcceptorWithoutProof(t *testing.T) {
	a := mustNode(t, "a", nil, nil, withKey(key1))
	// A node without the key accepts anyone but cannot prove itself.
	hb := &countingHandler{}
	b := mustNode(t, "b", hb, nil)
	a.m.SetPeer("b", b.addr)
	ctx := ctxTimeout(t, 5*time.Second)
	mustKind(t, a.m.Call(ctx, "b", "x", nil, nil), shardgate.KindUnauthorized)
	if hb.n.Load() != 0 {
		t.Fatalf("request sent to an unproven acceptor")
	}

	// An impostor that answers with the right name and a made-up proof.
	var up websocket.Upgrader
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := http.Header{headerNode: {"c"}, headerProof: {sign([]byte(key2), "accept", "c", r.Header.Get(headerNonce))}}
		if ws, err := up.Upgrade(w, r, h); err == nil {
			ws.Close()
		}
	}))
	defer fake.Close()
	a.m.SetPeer("c", fake.Listener.Addr().String())
	mustKind(t, a.m.Call(ctx, "c", "x", nil, nil), shardgate.KindUnauthorized)
}

// dialWith opens a raw link WebSocket with the given headers and returns
// the HTTP status of the answer.
func dialWith(tb testing.TB, addr string, h http.Header) int {
	tb.Helper()
	ws, resp, err := (&websocket.Dialer{}).Dial("ws://"+addr+"/internal/link", h)
	if ws != nil {
		ws.Close()
	}
	if resp == nil {
		tb.Fatalf("dial %s: no HTTP answer: %v", addr, err)
	}
	return resp.StatusCode
}

// TestHandshakeReplayedToAnotherNode captures a real handshake on its way
// to b and replays it, within the skew window, to c (same cluster key, its
// own nonce cache) and to b again: both must refuse.
func TestHandshakeReplayedToAnotherNode(t *testing.T) {
	a := mustNode(t, "a", nil, nil, withKey(key1))
	b := mustNode(t, "b", echoHandler, nil, withKey(key1))
	c := mustNode(t, "c", echoHandler, nil, withKey(key1))
	captured, _ := a.m.dialHeaders("b")

	if got := dialWith(t, c.addr, captured.Clone()); got != http.StatusMisdirectedRequest {
		t.Errorf("handshake for b replayed to c: status %d, want 421", got)
	}
	// The name header can be rewritten, but the signature covers it.
	retarget := captured.Clone()
	retarget.Set(headerTarget, "c")
	if got := dialWith(t, c.addr, retarget); got != http.StatusUnauthorized {
		t.Errorf("handshake re-addressed to c: status %d, want 401", got)
	}
	if got := dialWith(t, b.addr, captured.Clone()); got != http.StatusSwitchingProtocols {
		t.Fatalf("original handshake to b: status %d, want 101", got)
	}
	if got := dialWith(t, b.addr, captured.Clone()); got != http.StatusUnauthorized {
		t.Errorf("handshake replayed to b: status %d, want 401", got)
	}
}

// TestHandshakeRefusesNonMembers: holding the key is not enough; the name
// must be one the membership admits.
func TestHandshakeRefusesNonMembers(t *testing.T) {
	hb := &countingHandler{}
	var late atomic.Bool // "late" becomes a member while its dial waits
	b := mustNode(t, "b", hb, nil, withKey(key1), func(c *Config) {
		c.Member = func(name string) bool { return name == "a" || name == "b" || (name == "late" && late.Load()) }
	})
	now := time.Now()
	for _, tc := range []struct {
		name string
		want int
	}{
		{"stranger", http.StatusForbidden},
		{"a", http.StatusSwitchingProtocols},
	} {
		if got := dialWith(t, b.addr, handshake(key1, tc.name, "b", now, "nonce-"+tc.name)); got != tc.want {
			t.Errorf("dialer %q: status %d, want %d", tc.name, got, tc.want)
		}
	}
	// A node that gossip learns about while its dial waits is let in.
	time.AfterFunc(100*time.Millisecond, func() { late.Store(true) })
	if got := dialWith(t, b.addr, handshake(key1, "late", "b", now, "nonce-late")); got != http.StatusSwitchingProtocols {
		t.Errorf("dialer gossip learns about during the handshake: status %d, want 101", got)
	}

	// Through the Mesh: the refused dialer gets a retryable error and its
	// requests never reach the handler.
	z := mustNode(t, "z", nil, nil, withKey(key1))
	z.m.SetPeer("b", b.addr)
	ctx := ctxTimeout(t, 5*time.Second)
	mustKind(t, z.m.Call(ctx, "b", "x", nil, nil), shardgate.KindUnavailable)
	if hb.n.Load() != 0 {
		t.Fatalf("a non-member's request reached the handler")
	}
}

func inCluster(id *atomic.Value) func(*Config) {
	return func(c *Config) { c.Cluster = func() string { s, _ := id.Load().(string); return s } }
}

// Without a cluster key, a node of another cluster that took over a peer's
// address (same name, as test and dev clusters all have n1, n2, n3) was
// linked to and sent requests under the peer's name. Both ends now name
// their cluster, and a link between two clusters is refused either way,
// carrying no request; a node that does not know its cluster yet (a new
// one) is let in.
func TestALinkBetweenTwoClustersIsRefused(t *testing.T) {
	var idA, idB atomic.Value
	idA.Store("cluster-a")
	idB.Store("cluster-b")
	h := &countingHandler{}
	a := mustNode(t, "a", h, nil, inCluster(&idA))
	b := mustNode(t, "b", h, nil, inCluster(&idB))
	link(a, b)
	for _, from := range []*testNode{a, b} {
		to := "b"
		if from == b {
			to = "a"
		}
		err := from.m.Call(ctxTimeout(t, 3*time.Second), to, "m", nil, nil)
		if err == nil {
			t.Fatalf("a call from %s to the other cluster's %s was answered", from.name, to)
		}
	}
	if n := h.n.Load(); n != 0 {
		t.Fatalf("%d requests crossed between the clusters", n)
	}

	// A node that knows no cluster yet, and then one of the same cluster.
	c := mustNode(t, "c", h, nil)
	link(a, c)
	if err := a.m.Call(ctxTimeout(t, 3*time.Second), "c", "m", nil, nil); err != nil {
		t.Fatalf("a call to a node that knows no cluster yet: %v", err)
	}
	idB.Store("cluster-a")
	b2 := mustNode(t, "b2", h, nil, inCluster(&idB))
	link(a, b2)
	if err := b2.m.Call(ctxTimeout(t, 3*time.Second), "a", "m", nil, nil); err != nil {
		t.Fatalf("a call within one cluster: %v", err)
	}
}
