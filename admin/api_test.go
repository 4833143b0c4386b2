package admin

import (
	"net/http"
	"strings"
	"testing"
)

func TestRoutesAnswerTheSpecShapes(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		method, path, body string
		keys               []string // top-level fields the answer must have
		call               call     // what the fake must have been asked, if Op is set
	}{
		{"GET", "/v1/cluster", "", []string{"version", "partitions", "backups", "coordinator", "nodes"}, call{}},
		{"GET", "/v1/partitions", "", []string{"version", "partitions"}, call{}},
		{"GET", "/v1/partitions/3/history", "", []string{"shard", "history"}, call{Op: "shard_history", Shard: 3}},
		{"GET", "/v1/route?key=alice", "", []string{"key", "shard", "owner", "backups", "ws_url", "version"}, call{Op: "route", Key: "alice"}},
		{"POST", "/v1/rebalance", "", []string{"action", "version", "moves"}, call{Op: "rebalance"}},
		{"POST", "/v1/nodes/n2/drain", "", []string{"action", "version", "moves"}, call{Op: "drain", Node: "n2"}},
		{"POST", "/v1/nodes/n3/failover", "", []string{"action", "version", "moves"}, call{Op: "failover", Node: "n3"}},
		{"POST", "/v1/partitions/7/move", `{"to":"n1"}`, []string{"action", "version", "moves"}, call{Op: "move", Shard: 7, To: "n1"}},
		{"POST", "/v1/users/bob/messages", `{"data":{"x":1},"from":"alice","id":"m-1"}`, []string{"to", "seq"},
			call{Op: "send", Key: "bob", From: "alice", Data: `{"x":1}`, ID: "m-1"}},
		{"POST", "/v1/users/bob/messages", `{"data":"hi"}`, []string{"to", "seq"}, call{Op: "send", Key: "bob", Data: `"hi"`}},
		// null is a JSON value, as over a client connection; only a missing
		// "data" is refused.
		{"POST", "/v1/users/bob/messages?null", `{"data":null}`, []string{"to", "seq"}, call{Op: "send", Key: "bob", Data: `null`}},
		{"POST", "/v1/topics/news/messages?null", `{"data":null}`, []string{"delivered_nodes"}, call{Op: "publish", Topic: "news", Data: `null`}},
		{"GET", "/v1/users/bob/messages?since=5&limit=10", "", []string{"messages", "last_seq"},
			call{Op: "history", Key: "bob", Data: "since=5 limit=10"}},
		{"GET", "/v1/users/bob/messages", "", []string{"messages", "last_seq"}, call{Op: "history", Key: "bob", Data: "since=0 limit=0"}},
		{"GET", "/v1/users/bob/presence", "", []string{"online", "connections"}, call{Op: "presence", Key: "[bob]"}},
		{"POST", "/v1/topics/news/messages", `{"data":[1,2],"from":"ops"}`, []string{"delivered_nodes"},
			call{Op: "publish", Topic: "news", From: "ops", Data: `[1,2]`}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			h.fake.reset()
			r := h.do(t, tt.method, tt.path, tt.body, testToken)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			mustKeys(t, "answer", r.JSON, tt.keys...)
			if tt.call.Op == "" {
				return
			}
			calls := h.fake.Calls()
			if len(calls) != 1 || calls[0] != tt.call {
				t.Fatalf("backend calls = %+v, want [%+v]", calls, tt.call)
			}
		})
	}
}

func TestNestedFieldNames(t *testing.T) {
	h := newHarness(t)
	cv := h.do(t, "GET", "/v1/cluster", "", testToken).obj(t)
	nodes := cv["nodes"].([]any)
	if len(nodes) != 3 {
		t.Fatalf("nodes = %d, want 3", len(nodes))
	}
	mustKeys(t, "node", nodes[0], "name", "state", "coordinator", "ws_url", "admin_url", "gossip_addr",
		"owned", "backed_up", "connections", "messages_per_sec", "memory_bytes")

	pv := h.do(t, "GET", "/v1/partitions", "", testToken).obj(t)
	parts := pv["partitions"].([]any)
	if len(parts) != 271 {
		t.Fatalf("partitions = %d, want 271", len(parts))
	}
	mustKeys(t, "partition", parts[0], "id", "owner", "backups", "state", "messages", "bytes", "under_replicated")

	hist := h.do(t, "GET", "/v1/partitions/3/history", "", testToken).obj(t)
	entries := hist["history"].([]any)
	mustKeys(t, "history entry", entries[0], "shard", "version", "at", "from", "to", "backups", "reason")
	// The fake leaves the second entry's backups nil: tools must still get [].
	if b, ok := entries[1].(map[string]any)["backups"].([]any); !ok || len(b) != 0 {
		t.Errorf("nil backups should be [], got %v", entries[1].(map[string]any)["backups"])
	}

	msgs := h.do(t, "GET", "/v1/users/bob/messages?since=1", "", testToken).obj(t)
	mustKeys(t, "message", msgs["messages"].([]any)[0], "seq", "from", "data", "ts", "id")

	rep := h.do(t, "POST", "/v1/rebalance", "", testToken).obj(t)
	mustKeys(t, "move", rep["moves"].([]any)[0], "shard", "from", "to", "role")

	pres := h.do(t, "GET", "/v1/users/carol/presence", "", testToken).obj(t)
	if pres["online"] != false || pres["connections"] != float64(0) {
		t.Errorf("an unknown key should be offline with 0 connections, got %v", pres)
	}
}

func TestPathParamsAreUnescaped(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct{ path, key string }{
		{"/v1/users/a%2Fb/messages", "a/b"},
		{"/v1/users/caf%C3%A9/messages", "café"},
		{"/v1/users/50%25/messages", "50%"},
		{"/v1/users/with%20space/messages", "with space"},
		{"/v1/users/plain/messages", "plain"},
	} {
		h.fake.reset()
		r := h.do(t, "POST", tt.path, `{"data":1}`, testToken)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", tt.path, r.Status, r.Body)
		}
		if got := h.fake.Calls()[0].Key; got != tt.key {
			t.Errorf("%s: backend got key %q, want %q", tt.path, got, tt.key)
		}
	}
	h.fake.reset()
	if r := h.do(t, "POST", "/v1/nodes/node%2F1/drain", "", testToken); r.Status != http.StatusOK || h.fake.Calls()[0].Node != "node/1" {
		t.Errorf("node name not unescaped: %d %+v", r.Status, h.fake.Calls())
	}
	h.fake.reset()
	if r := h.do(t, "POST", "/v1/topics/room%2F7/messages", `{"data":1}`, testToken); r.Status != http.StatusOK || h.fake.Calls()[0].Topic != "room/7" {
		t.Errorf("topic not unescaped: %d %+v", r.Status, h.fake.Calls())
	}
}

func TestUnauthenticatedRoutesAndDashboard(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/", "/app.js", "/style.css"} {
		if r := h.do(t, "GET", p, "", ""); r.Status != http.StatusOK {
			t.Errorf("GET %s without token: %d", p, r.Status)
		}
	}
	r := h.do(t, "GET", "/", "", "")
	if !strings.Contains(string(r.Body), `content="token"`) || !strings.Contains(string(r.Body), `id="partition-map"`) {
		t.Errorf("dashboard page lacks the auth mode or the map")
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("dashboard CSP = %q", csp)
	}
	for _, asset := range []string{"index.html", "app.js", "style.css"} {
		body, _ := uiFiles.ReadFile("ui/" + asset)
		if s := string(body); strings.Contains(s, "http://") || strings.Contains(s, "https://") || strings.Contains(s, "//cdn") {
			t.Errorf("%s refers to another origin: the dashboard must work offline", asset)
		}
	}
}

func TestReadyz(t *testing.T) {
	h := newHarness(t)
	if r := h.do(t, "GET", "/readyz", "", ""); r.Status != http.StatusOK {
		t.Fatalf("ready: %d", r.Status)
	}
	h.fake.mu.Lock()
	h.fake.ready = errUnavailable("the partition table is not known yet")
	h.fake.mu.Unlock()
	r := h.do(t, "GET", "/readyz", "", "")
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("not ready: status %d", r.Status)
	}
	mustErrorShape(t, r)
	if !strings.Contains(string(r.Body), "partition table is not known") {
		t.Errorf("the reason is missing: %s", r.Body)
	}
}
