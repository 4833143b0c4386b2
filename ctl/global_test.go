package ctl

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// --json and --dry-run may come before the command, as the connection
// flags may: "shardgate ctl --json nodes" prints the API's answer.
func TestFlagsBeforeTheCommand(t *testing.T) {
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/route":
			w.Write([]byte(`{"key":"alice","shard":3,"owner":"n2","backups":["n1"],"ws_url":"ws://127.0.0.1:8081/v1/ws","version":7}`))
		case "/v1/rebalance":
			w.Write([]byte(`{"action":"rebalance","dry_run":true,"version":7,"moves":[],"bytes":0,"estimate_ms":0,"summary":"nothing to move"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	out, err := ctlRun(t, srv.URL, testToken, "--json", "route", "alice")
	if err != nil {
		t.Fatalf("ctl --json route alice: %v", err)
	}
	if m := decodeObject(t, "--json route", out); m["owner"] != "n2" {
		t.Errorf("--json route printed %s", out)
	}

	out, err = ctlRun(t, srv.URL, testToken, "--dry-run", "--json", "rebalance")
	if err != nil {
		t.Fatalf("ctl --dry-run --json rebalance: %v", err)
	}
	decodeObject(t, "--dry-run --json rebalance", out)
	mu.Lock()
	last := queries[len(queries)-1]
	mu.Unlock()
	if !strings.HasPrefix(last, "POST /v1/rebalance?") || !strings.Contains(last, "dry_run=1") {
		t.Errorf("ctl --dry-run rebalance sent %q, want a dry run", last)
	}

	// --dry-run before a command that changes nothing is refused, not ignored.
	if _, err := ctlRun(t, srv.URL, testToken, "--dry-run", "route", "alice"); err == nil {
		t.Error("ctl --dry-run route alice: no error")
	}
}
