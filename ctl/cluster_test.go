package ctl

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/internal/apptest"
	"github.com/shardgate/shardgate/internal/testutil"
)

const (
	testToken = "ctl-test-token-0123"
	testActor = "tester@ctl"
)

// startCluster runs n nodes in this process on loopback and waits until
// every node is ready and owns shards, as the CLI itself reports it.
func startCluster(t *testing.T, n int) []*app.Server {
	t.Helper()
	servers := apptest.Start(t, n, func(cfg *app.Config) {
		cfg.Partitions = 64
		cfg.AdminToken = testToken
	})
	waitSettled(t, servers[0].AdminURL(), n)
	return servers
}

// waitSettled polls ctl status --json until n nodes are active and every
// shard is stable and fully replicated.
func waitSettled(t *testing.T, adminURL string, n int) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		var st statusJSON
		out, err := ctlRun(t, adminURL, testToken, "status", "--json")
		if err == nil && decodeStrict(out, &st) == nil {
			if st.Nodes["active"] == n && st.Shards.Stable == st.Shards.Total && st.Shards.Total > 0 &&
				st.Shards.UnderReplicated == 0 && st.Shards.Unowned == 0 && st.Quorum != nil && *st.Quorum &&
				everyNodeOwns(t, adminURL, n) {
				return
			}
		}
		last = fmt.Sprintf("%s %v", out, err)
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the cluster did not settle: %s", last)
}

// everyNodeOwns reports whether nodes --json lists n nodes that each own
// shards: a node is active in membership a moment before the table names it.
func everyNodeOwns(t *testing.T, adminURL string, n int) bool {
	out, err := ctlRun(t, adminURL, testToken, "nodes", "--json")
	if err != nil {
		return false
	}
	var v struct {
		Nodes []struct {
			Owned int `json:"owned"`
		} `json:"nodes"`
	}
	if json.Unmarshal([]byte(out), &v) != nil || len(v.Nodes) != n {
		return false
	}
	for _, node := range v.Nodes {
		if node.Owned == 0 {
			return false
		}
	}
	return true
}

// testEnv is the connection part cmd/node provides, reduced to two flags.
func testEnv(w io.Writer, adminURL, token string) Env {
	var u, tok string
	return Env{
		Stdout: w,
		Register: func(fs *flag.FlagSet) {
			fs.StringVar(&u, "admin-url", adminURL, "")
			fs.StringVar(&tok, "admin-token", token, "")
		},
		Resolve: func() (Conn, error) {
			return Conn{URL: u, Token: tok, Timeout: 10 * time.Second, Actor: testActor}, nil
		},
		ConnHelp: func(w io.Writer) { fmt.Fprintln(w, "  --admin-url, --admin-token") },
	}
}

// ctlRun runs one ctl command and returns what it printed.
func ctlRun(t *testing.T, adminURL, token string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out testutil.Buffer
	err := Run(ctx, testEnv(&out, adminURL, token), args)
	return out.String(), err
}

// recorder is a reverse proxy in front of a node that remembers each
// request: what the CLI sent, not only what it printed.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	srv  *httptest.Server
}

type recorded struct {
	method, path string
	query        url.Values
	body         string
	auth, actor  string
}

func newRecorder(t *testing.T, target string) *recorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytesReader(b))
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, req.URL.Query(), string(b), req.Header.Get("Authorization"), req.Header.Get(ActorHeader)})
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) last() recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		return recorded{}
	}
	return r.reqs[len(r.reqs)-1]
}
