package link

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shardgate/shardgate"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testNode is one Mesh served by an httptest server on 127.0.0.1.
type testNode struct {
	name string
	m    *Mesh
	srv  *httptest.Server
	addr string
}

// echoReply is what echoHandler answers: who asked, what, with which body.
type echoReply struct {
	From   string          `json:"from"`
	Method string          `json:"method"`
	Body   json.RawMessage `json:"body"`
}

var echoHandler = HandlerFunc(func(_ context.Context, from, method string, body json.RawMessage) (any, error) {
	return echoReply{From: from, Method: method, Body: body}, nil
})

// mustNode starts a node named name; a nil listener means a fresh port.
func mustNode(tb testing.TB, name string, h Handler, l net.Listener, opts ...func(*Config)) *testNode {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.Name, cfg.Handler = name, h
	cfg.DialTimeout = time.Second
	for _, o := range opts {
		o(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		tb.Fatalf("New(%s): %v", name, err)
	}
	mux := http.NewServeMux()
	mux.Handle(cfg.Path, m)
	srv := httptest.NewUnstartedServer(mux)
	if l != nil {
		srv.Listener.Close()
		srv.Listener = l
	}
	if cfg.TLS != nil {
		srv.TLS = cfg.TLS.Server
		srv.StartTLS()
	} else {
		srv.Start()
	}
	n := &testNode{name: name, m: m, srv: srv, addr: srv.Listener.Addr().String()}
	tb.Cleanup(n.stop)
	return n
}

// stop closes the mesh, then the listener; safe to call twice.
func (n *testNode) stop() {
	n.m.Close()
	n.srv.Close()
}

// link makes each node know the other's address.
func link(nodes ...*testNode) {
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				a.m.SetPeer(b.name, b.addr)
			}
		}
	}
}

func withKey(key string) func(*Config) {
	return func(c *Config) { c.ClusterKey = []byte(key) }
}

// mustKind fails unless err is an *shardgate.Error of kind k.
func mustKind(tb testing.TB, err error, k shardgate.Kind) *shardgate.Error {
	tb.Helper()
	var e *shardgate.Error
	if !errors.As(err, &e) {
		tb.Fatalf("error %v (%T) is not a *shardgate.Error; want kind %s", err, err, k)
	}
	if e.Kind != k {
		tb.Fatalf("error %q has kind %s, want %s", err, e.Kind, k)
	}
	return e
}

// freeAddr returns a loopback address nobody listens on.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func ctxTimeout(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}
