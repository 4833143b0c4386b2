package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const testClusterKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes

// testCA is a self-signed CA made for one test; it issues listener
// certificates for 127.0.0.1 and localhost.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(tb testing.TB) *testCA {
	tb.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue writes a certificate with the given serial and its key to dir and
// returns the two paths.
func (ca *testCA) issue(tb testing.TB, dir string, serial int64) (certFile, keyFile string) {
	tb.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(tb, certFile, "CERTIFICATE", der)
	writePEM(tb, keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile
}

func writePEM(tb testing.TB, path, typ string, der []byte) {
	tb.Helper()
	// Write then rename, as a certificate renewal tool would.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}

// startCluster starts n nodes that join the first one.
func startCluster(tb testing.TB, n int, mut func(*Config)) []*Server {
	tb.Helper()
	var out []*Server
	seed := ""
	for i := 1; i <= n; i++ {
		out = append(out, startNode(tb, func(c *Config) {
			c.Name = fmt.Sprintf("n%d", i)
			if seed != "" {
				c.Join = []string{seed}
			}
			if mut != nil {
				mut(c)
			}
		}))
		if seed == "" {
			seed = out[0].GossipAddr()
		}
	}
	return out
}

// wsSendAll connects as user through dialer and sends one message to each
// key, retrying while the cluster settles; every send must be acknowledged
// by the key's home and its backup, so every one crosses a node link.
func wsSendAll(t *testing.T, d *websocket.Dialer, url, user string, keys []string) {
	t.Helper()
	ws, _, err := d.Dial(url+"?user="+user, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, msg, err := ws.ReadMessage(); err != nil || !strings.Contains(string(msg), "welcome") {
		t.Fatalf("welcome: %s %v", msg, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for i, key := range keys {
		for {
			req := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"send","params":{"to":%q,"data":"over tls"}}`, i+1, key)
			if err := ws.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
				t.Fatal(err)
			}
			var resp struct {
				Result *struct{ Seq uint64 } `json:"result"`
				Error  *struct{ Code int }   `json:"error"`
			}
			if err := ws.ReadJSON(&resp); err != nil {
				t.Fatal(err)
			}
			if resp.Result != nil && resp.Result.Seq > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("send to %s never acknowledged: %+v", key, resp.Error)
			}
			time.Sleep(100 * time.Millisecond) // the cluster is still forming
		}
	}
}

// TestTLSEndToEnd: three nodes with TLS on both listeners and on the links
// (from the cluster key alone); a client connects with wss://, its sends
// cross the links, the URLs in /v1/cluster and /v1/route say wss:// and
// https://, and plain HTTP is refused.
func TestTLSEndToEnd(t *testing.T) {
	ca := newTestCA(t)
	certFile, keyFile := ca.issue(t, t.TempDir(), 100)
	nodes := startCluster(t, 3, func(c *Config) {
		c.TLSCert, c.TLSKey = certFile, keyFile
		c.ClusterKey = testClusterKey
		c.AdminToken = "0123456789abcdef0123"
	})
	clientTLS := &tls.Config{RootCAs: ca.pool}
	for _, s := range nodes {
		if !strings.HasPrefix(s.WSURL(), "wss://") || !strings.HasPrefix(s.AdminURL(), "https://") {
			t.Fatalf("URLs %s %s", s.WSURL(), s.AdminURL())
		}
	}
	d := &websocket.Dialer{TLSClientConfig: clientTLS, HandshakeTimeout: 5 * time.Second}
	wsSendAll(t, d, nodes[0].WSURL(), "alice", []string{"k1", "k2", "k3", "k4", "k5", "k6"})

	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: clientTLS}}
	var cluster struct {
		Nodes []struct {
			Name     string `json:"name"`
			WSURL    string `json:"ws_url"`
			AdminURL string `json:"admin_url"`
		} `json:"nodes"`
	}
	getJSON(t, hc, nodes[1].AdminURL()+"/v1/cluster", "0123456789abcdef0123", &cluster)
	if len(cluster.Nodes) != 3 {
		t.Fatalf("cluster view: %+v", cluster)
	}
	for _, n := range cluster.Nodes {
		if !strings.HasPrefix(n.WSURL, "wss://") || !strings.HasPrefix(n.AdminURL, "https://") {
			t.Errorf("node %s URLs %q %q", n.Name, n.WSURL, n.AdminURL)
		}
	}
	var route struct {
		WSURL string `json:"ws_url"`
	}
	getJSON(t, hc, nodes[2].PublicURL()+"/v1/route?key=k1", "", &route)
	if !strings.HasPrefix(route.WSURL, "wss://") {
		t.Errorf("route ws_url %q", route.WSURL)
	}

	// Plain HTTP and plain WebSocket get nowhere on either port.
	plain := &http.Client{Timeout: 5 * time.Second}
	for _, u := range []string{"http://" + hostOf(nodes[0].PublicURL()) + "/healthz", "http://" + hostOf(nodes[0].AdminURL()) + "/healthz"} {
		if resp, err := plain.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Errorf("plain %s answered 200", u)
			}
		}
	}
	if ws, _, err := websocket.DefaultDialer.Dial("ws://"+hostOf(nodes[0].PublicURL())+"/v1/ws?user=x", nil); err == nil {
		ws.Close()
		t.Error("plain ws:// accepted on a TLS listener")
	}
}

func getJSON(t *testing.T, hc *http.Client, url, token string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestLinkTLSWithPlainClients: with only a cluster key, clients keep plain
// ws:// while the node links on the same port use TLS, and a plain dial of
// the link endpoint is refused.
func TestLinkTLSWithPlainClients(t *testing.T) {
	nodes := startCluster(t, 2, func(c *Config) { c.ClusterKey = testClusterKey })
	wsSendAll(t, &websocket.Dialer{HandshakeTimeout: 5 * time.Second}, nodes[1].WSURL(), "bob", []string{"a", "b", "c", "d"})

	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+hostOf(nodes[0].PublicURL())+"/internal/link",
		http.Header{"X-Shardgate-Node": {"n2"}, "X-Shardgate-Target": {"n1"}})
	if ws != nil {
		ws.Close()
	}
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("plain link dial: %v %v, want 403", resp, err)
	}
}

// TestTLSReload: ReloadTLS (what SIGHUP calls) makes new
// handshakes present the new certificate; a bad file keeps the old one.
func TestTLSReload(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.issue(t, dir, 1)
	s := startNode(t, func(c *Config) { c.TLSCert, c.TLSKey, c.ClusterKey = certFile, keyFile, testClusterKey })
	serial := func() int64 {
		c, err := tls.Dial("tcp", hostOf(s.AdminURL()), &tls.Config{RootCAs: ca.pool})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if got := serial(); got != 1 {
		t.Fatalf("serial %d before reload", got)
	}
	ca.issue(t, dir, 2)
	if err := s.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if got := serial(); got != 2 {
		t.Fatalf("serial %d after reload, want 2", got)
	}
	os.WriteFile(certFile, []byte("garbage"), 0o600)
	if err := s.ReloadTLS(); err == nil {
		t.Fatal("reload of a broken file succeeded")
	}
	if got := serial(); got != 2 {
		t.Fatalf("serial %d after a failed reload, want 2", got)
	}
}
