package ctl

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/testutil"
)

// hasKeys checks that a JSON object carries every key, whatever else it has.
func hasKeys(t *testing.T, what string, obj map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			t.Errorf("%s: no %q in %v", what, k, obj)
		}
	}
}

func decodeObject(t *testing.T, what, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: not a JSON object: %v\n%s", what, err, s)
	}
	return m
}

// TestAgainstCluster runs every read command and the actions' dry runs
// against a real 3-node cluster, as tables and as JSON.
func TestAgainstCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	servers := startCluster(t, 3)
	admin := servers[1].AdminURL() // any node answers for the cluster
	run := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := ctlRun(t, admin, testToken, args...)
		if err != nil {
			t.Fatalf("ctl %s: %v", strings.Join(args, " "), err)
		}
		return out
	}

	t.Run("status", func(t *testing.T) {
		var st statusJSON
		if err := decodeStrict(run(t, "status", "--json"), &st); err != nil {
			t.Fatal(err)
		}
		if st.Partitions != 64 || st.Backups != 1 || st.Nodes["active"] != 3 || st.Shards.Total != 64 || st.Coordinator == "" {
			t.Errorf("status %+v", st)
		}
		out := run(t, "status")
		for _, want := range []string{"table version", "3: 3 active", "64 stable, 0 migrating"} {
			if !strings.Contains(out, want) {
				t.Errorf("status lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("nodes", func(t *testing.T) {
		m := decodeObject(t, "nodes --json", run(t, "nodes", "--json"))
		hasKeys(t, "nodes --json", m, "version", "partitions", "backups", "coordinator", "nodes")
		nodes, _ := m["nodes"].([]any)
		if len(nodes) != 3 {
			t.Fatalf("nodes --json lists %d nodes", len(nodes))
		}
		for _, n := range nodes {
			hasKeys(t, "node", n.(map[string]any), "name", "state", "coordinator", "ws_url", "admin_url", "gossip_addr", "owned", "backed_up", "connections", "messages_per_sec", "memory_bytes")
		}
		lines := strings.Split(strings.TrimSpace(run(t, "nodes")), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME") {
			t.Errorf("nodes table:\n%s", strings.Join(lines, "\n"))
		}
		for i, name := range []string{"n1", "n2", "n3"} {
			if !strings.HasPrefix(lines[i+1], name+" ") || !strings.Contains(lines[i+1], "active") {
				t.Errorf("row %d: %q", i+1, lines[i+1])
			}
		}
	})

	var owner0 string
	t.Run("partitions", func(t *testing.T) {
		m := decodeObject(t, "partitions --json", run(t, "partitions", "--json"))
		hasKeys(t, "partitions --json", m, "version", "partitions")
		parts, _ := m["partitions"].([]any)
		if len(parts) != 64 {
			t.Fatalf("%d partitions", len(parts))
		}
		p0 := parts[0].(map[string]any)
		hasKeys(t, "partition", p0, "id", "owner", "backups", "state", "messages", "bytes")
		owner0, _ = p0["owner"].(string)

		out := run(t, "partitions")
		total := 0
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && strings.HasPrefix(f[0], "n") {
				var n int
				if _, err := fmtSscan(f[1], &n); err == nil {
					total += n
				}
			}
		}
		if total != 64 {
			t.Errorf("owned column sums to %d, want 64:\n%s", total, out)
		}
		mapped := run(t, "partitions", "--map")
		if strings.Count(mapped, "owns ") != 3 || !strings.Contains(mapped, "backs up") {
			t.Errorf("partitions --map:\n%s", mapped)
		}
	})

	t.Run("route", func(t *testing.T) {
		m := decodeObject(t, "route --json", run(t, "route", "alice", "--json"))
		hasKeys(t, "route --json", m, "key", "shard", "owner", "backups", "ws_url", "version")
		if m["key"] != "alice" {
			t.Errorf("route key %v", m["key"])
		}
		out := run(t, "route", "alice")
		if !strings.Contains(out, "alice") || !strings.Contains(out, m["owner"].(string)) {
			t.Errorf("route table:\n%s", out)
		}
	})

	t.Run("history", func(t *testing.T) {
		m := decodeObject(t, "history --json", run(t, "history", "0", "--json"))
		hasKeys(t, "history --json", m, "shard", "history")
		out := run(t, "history", "0")
		if !strings.Contains(out, "REASON") && !strings.Contains(out, "no ownership changes") {
			t.Errorf("history table:\n%s", out)
		}
		if owner0 != "" && strings.Contains(out, "REASON") && !strings.Contains(out, owner0) {
			t.Errorf("history of shard 0 never names its owner %s:\n%s", owner0, out)
		}
	})

	t.Run("events", func(t *testing.T) {
		// Without --follow: one page of the durable event log.
		m := decodeObject(t, "events --json", run(t, "events", "--json"))
		hasKeys(t, "events --json", m, "events", "last_seq")
		entries, _ := m["events"].([]any)
		if len(entries) == 0 {
			t.Fatalf("events --json: the log of a running cluster is empty: %v", m)
		}
		for _, e := range entries {
			hasKeys(t, "log entry", e.(map[string]any), "seq", "at", "version", "type")
		}
		if out := run(t, "events", "--tail", "3"); !strings.Contains(out, "entries; the log is at #") {
			t.Errorf("events --tail 3:\n%s", out)
		}
	})

	t.Run("follow ends with its context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var out testutil.Buffer
		done := make(chan error, 1)
		go func() { done <- Run(ctx, testEnv(&out, admin, testToken), []string{"events", "--follow", "--all"}) }()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), "snapshot") && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("events --follow: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("events --follow did not stop when cancelled")
		}
		if !strings.Contains(out.String(), "snapshot") {
			t.Errorf("events --follow printed nothing: %q", out.String())
		}
	})

	t.Run("errors are one line", func(t *testing.T) {
		tests := []struct {
			url, token string
			args       []string
			want       []string
		}{
			{admin, "wrong", []string{"status"}, []string{"401", "set --admin-token"}},
			{admin, testToken, []string{"history", "9999"}, []string{"ctl history: 4"}},
			{admin, testToken, []string{"drain", "nosuch"}, []string{"ctl drain: 4", "nosuch"}},
			{admin, testToken, []string{"move", "1", "--to", "nosuch"}, []string{"ctl move: 4"}},
			{"http://127.0.0.1:1", testToken, []string{"nodes"}, []string{"cannot reach the admin API at http://127.0.0.1:1", "--admin-url"}},
			{admin, testToken, []string{"route"}, []string{"wants KEY"}},
			{admin, testToken, []string{"history", "x"}, []string{`SHARD "x" is not a shard number`}},
			{admin, testToken, []string{"frob"}, []string{`unknown command "frob"`}},
		}
		for _, tc := range tests {
			_, err := ctlRun(t, tc.url, tc.token, tc.args...)
			if err == nil {
				t.Errorf("%v: no error", tc.args)
				continue
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v: error %q lacks %q", tc.args, err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("%v: error spans lines: %q", tc.args, err)
			}
		}
	})
	// Last: on a server that does not honour dry_run these really drain
	// and fail over nodes.
	t.Run("actions send what was asked", func(t *testing.T) {
		rec := newRecorder(t, admin)
		tests := []struct {
			args   []string
			path   string
			body   string
			reason string
		}{
			{[]string{"rebalance", "--dry-run"}, "/v1/rebalance", "", ""},
			{[]string{"drain", "n3", "--dry-run", "--reason", "kernel upgrade"}, "/v1/nodes/n3/drain", "", "kernel upgrade"},
			{[]string{"failover", "--dry-run", "n2"}, "/v1/nodes/n2/failover", "", ""},
			{[]string{"readmit", "n2", "--dry-run"}, "/v1/nodes/n2/readmit", "", ""},
			{[]string{"remove", "n3", "--dry-run"}, "/v1/nodes/n3/remove", "", ""},
			{[]string{"move", "5", "--to", "n1", "--dry-run"}, "/v1/partitions/5/move", `{"to":"n1"}`, ""},
		}
		for _, tc := range tests {
			out, err := ctlRun(t, rec.srv.URL, testToken, append(tc.args, "--json")...)
			got := rec.last()
			if got.method != "POST" || got.path != tc.path || got.query.Get("dry_run") != "1" || got.body != tc.body ||
				got.query.Get("reason") != tc.reason || got.auth != "Bearer "+testToken || got.actor != testActor {
				t.Errorf("%v sent %+v", tc.args, got)
			}
			// Whatever the server answers passes through: a plan as JSON,
			// or its error as one line.
			if err != nil {
				if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "ctl "+tc.args[0]) {
					t.Errorf("%v: error %q", tc.args, err)
				}
				continue
			}
			m := decodeObject(t, tc.args[0]+" --json", out)
			hasKeys(t, tc.args[0]+" --json", m, "action", "version", "moves")
		}
	})

}
