package link

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shardgate/shardgate"
)

// recorder is a TCP proxy that keeps a copy of every byte in both
// directions: what a passive observer of the link would capture.
type recorder struct {
	ln    net.Listener
	to    string
	mu    sync.Mutex
	seen  bytes.Buffer
	conns []net.Conn
	wg    sync.WaitGroup
}

func newRecorder(tb testing.TB, to string) *recorder {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &recorder{ln: ln, to: to}
	r.wg.Add(1)
	go r.accept()
	tb.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		for _, c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
	return r
}

func (r *recorder) accept() {
	defer r.wg.Done()
	for {
		in, err := r.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", r.to)
		if err != nil {
			in.Close()
			continue
		}
		r.mu.Lock()
		r.conns = append(r.conns, in, out)
		r.mu.Unlock()
		r.wg.Add(2)
		go r.pipe(in, out)
		go r.pipe(out, in)
	}
}

func (r *recorder) pipe(from, to net.Conn) {
	defer r.wg.Done()
	defer to.Close()
	defer from.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			r.mu.Lock()
			r.seen.Write(buf[:n])
			r.mu.Unlock()
			if _, werr := to.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (r *recorder) captured() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.seen.Bytes())
}

func withTLS(tb testing.TB, key, name string) func(*Config) {
	t, err := ClusterTLS([]byte(key), name)
	if err != nil {
		tb.Fatal(err)
	}
	return func(c *Config) { c.TLS = t }
}

// TestLinkTrafficIsEncrypted puts a recording proxy between two nodes and
// sends a known payload both ways: with link TLS it never appears in the
// captured bytes, nor do the node names or handshake headers; without TLS
// (the control) it does, so the probe can see plain text.
func TestLinkTrafficIsEncrypted(t *testing.T) {
	const secret = "payload-that-must-not-leak-7f3a"
	for _, tc := range []struct {
		name      string
		tls       bool
		wantClear bool
	}{
		{"cluster TLS", true, false},
		{"plain control", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			optsA, optsB := []func(*Config){withKey(key1)}, []func(*Config){withKey(key1)}
			if tc.tls {
				optsA = append(optsA, withTLS(t, key1, "node-a"))
				optsB = append(optsB, withTLS(t, key1, "node-b"))
			}
			a := mustNode(t, "node-a", echoHandler, nil, optsA...)
			b := mustNode(t, "node-b", echoHandler, nil, optsB...)
			rec := newRecorder(t, b.addr)
			a.m.SetPeer("node-b", rec.ln.Addr().String())
			b.m.SetPeer("node-a", a.addr)
			ctx := ctxTimeout(t, 10*time.Second)
			var got echoReply
			if err := a.m.Call(ctx, "node-b", "store", map[string]string{"data": secret}, &got); err != nil {
				t.Fatalf("call over the link: %v", err)
			}
			if !strings.Contains(string(got.Body), secret) || got.From != "node-a" {
				t.Fatalf("answer %+v", got)
			}
			if err := a.m.Notify(ctx, "node-b", "note", secret); err != nil {
				t.Fatal(err)
			}
			// The answer carried the payload back; the capture holds both directions.
			seen := rec.captured()
			for _, word := range []string{secret, headerNode, "node-a", "/internal/link"} {
				if bytes.Contains(seen, []byte(word)) != tc.wantClear {
					t.Errorf("%q in the clear on the wire: %v, want %v (%d bytes captured)",
						word, !tc.wantClear, tc.wantClear, len(seen))
				}
			}
		})
	}
}

// TestLinkTLSRefusesOutsiders: a node with another cluster key, a plain
// dial, and a TLS client without a cluster certificate are all refused.
func TestLinkTLSRefusesOutsiders(t *testing.T) {
	hb := &countingHandler{}
	b := mustNode(t, "b", hb, nil, withKey(key1), withTLS(t, key1, "b"))
	ctx := ctxTimeout(t, 10*time.Second)

	// Another cluster's CA: the TLS handshake itself fails.
	x := mustNode(t, "x", nil, nil, withKey(key1), withTLS(t, key2, "x"))
	x.m.SetPeer("b", b.addr)
	mustKind(t, x.m.Call(ctx, "b", "m", nil, nil), shardgate.KindUnavailable)

	// TLS without a client certificate, even trusting b's CA.
	tb, _ := ClusterTLS([]byte(key1), "probe")
	noCert := tb.Client.Clone()
	noCert.Certificates = nil
	d := websocket.Dialer{TLSClientConfig: noCert, HandshakeTimeout: 5 * time.Second}
	if ws, _, err := d.Dial("wss://"+b.addr+"/internal/link", handshake(key1, "a", "b", time.Now(), "nc-1")); err == nil {
		ws.Close()
		t.Fatal("a TLS client without a cluster certificate was let in")
	}

	// A verified certificate but the wrong server name (a client's TLS).
	other := tb.Client.Clone()
	other.ServerName = "example.com"
	other.InsecureSkipVerify = true // let the probe reach the HTTP layer
	d = websocket.Dialer{TLSClientConfig: other, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial("wss://"+b.addr+"/internal/link", handshake(key1, "a", "b", time.Now(), "nc-2"))
	if ws != nil {
		ws.Close()
	}
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("link under another server name: %v %v, want 403", resp, err)
	}
	if hb.n.Load() != 0 {
		t.Fatalf("an outsider's request reached the handler")
	}
}

// TestClusterTLSIsDerivedFromTheKey: nodes that share only the cluster key
// trust each other's certificates; another key's CA does not.
func TestClusterTLSIsDerivedFromTheKey(t *testing.T) {
	a, _ := ClusterTLS([]byte(key1), "a")
	b, _ := ClusterTLS([]byte(key1), "b")
	c, _ := ClusterTLS([]byte(key2), "c")
	if !a.Server.ClientCAs.Equal(b.Server.ClientCAs) {
		t.Fatal("two nodes with one key built different CAs")
	}
	if a.Server.ClientCAs.Equal(c.Server.ClientCAs) {
		t.Fatal("two keys built the same CA")
	}
	if a.Server.MinVersion != tls.VersionTLS13 || a.Client.MinVersion != tls.VersionTLS13 {
		t.Fatal("link TLS allows versions before 1.3")
	}
}
