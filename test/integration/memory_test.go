package integration

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shardgate/shardgate/conn"
	"github.com/shardgate/shardgate/internal/testutil"
)

// rssBytes reads a process's resident set size.
func rssBytes(tb testing.TB, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}

// BenchmarkIdleConnRSS starts one node as its own process, opens
// SHARDGATE_IDLE_CONNS (default 5000) authenticated connections that stay
// idle, and reports the growth of the node's resident memory per
// connection. Client sockets use several 127.0.0.x source addresses.
func BenchmarkIdleConnRSS(b *testing.B) {
	n := 5000
	if v := os.Getenv("SHARDGATE_IDLE_CONNS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	secret := "0123456789abcdef0123456789abcdef"
	dir := b.TempDir()
	p := &proc{name: "m1", dataDir: filepath.Join(dir, "m1"), gossip: testutil.FreeAddr(b),
		ws: testutil.FreeAddr(b), admin: testutil.FreeAddr(b),
		extra: []string{"--auth-secret", secret, "--log-level", "warn"}}
	p.log, _ = os.Create(filepath.Join(dir, "m1.log"))
	p.start(b)
	defer p.kill()
	testutil.Eventually(b, 30*time.Second, "node ready", func() bool {
		r, err := http.Get("http://" + p.admin + "/readyz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == http.StatusOK
	})
	dial := func(i int) *websocket.Conn {
		src := &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+i%200))}
		d := &websocket.Dialer{ReadBufferSize: 256, WriteBufferSize: 256, HandshakeTimeout: 10 * time.Second,
			NetDial: func(network, addr string) (net.Conn, error) {
				return (&net.Dialer{LocalAddr: src}).Dial(network, addr)
			}}
		tok, _ := conn.MintToken([]byte(secret), fmt.Sprintf("idle-%d", i), time.Hour, nil, nil, nil)
		ws, _, err := d.Dial("ws://"+p.ws+"/v1/ws", http.Header{"Authorization": {"Bearer " + tok}})
		if err != nil {
			b.Fatalf("dial %d: %v", i, err)
		}
		if _, _, err := ws.ReadMessage(); err != nil {
			b.Fatalf("welcome %d: %v", i, err)
		}
		return ws
	}
	warm := dial(-1)
	defer warm.Close()
	time.Sleep(2 * time.Second)
	before := rssBytes(b, p.cmd.Process.Pid)
	conns := make([]*websocket.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		conns = append(conns, dial(i))
	}
	time.Sleep(3 * time.Second) // let the GC settle
	after := rssBytes(b, p.cmd.Process.Pid)
	b.ReportMetric(float64(after-before)/float64(n), "RSS-B/conn")
	b.Logf("%d idle connections: RSS %d → %d bytes", n, before, after)
}
