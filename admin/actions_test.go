package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
)

// Every action takes dry_run and force from the query or the body, and
// readmit is routed like the others.
func TestActionOptions(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		path, body string
		want       call
	}{
		{"/v1/rebalance?dry_run=1", "", call{Op: "rebalance", DryRun: true}},
		{"/v1/rebalance", `{"dry_run": true}`, call{Op: "rebalance", DryRun: true}},
		{"/v1/nodes/n2/drain?dry_run=true&force=1", "", call{Op: "drain", Node: "n2", DryRun: true, Force: true}},
		{"/v1/nodes/n3/failover", `{"force": true, "reason": "disk full"}`, call{Op: "failover", Node: "n3", Force: true}},
		{"/v1/nodes/n3/readmit", "", call{Op: "readmit", Node: "n3"}},
		{"/v1/nodes/n3/readmit?dry_run=1", "{}", call{Op: "readmit", Node: "n3", DryRun: true}},
		{"/v1/partitions/7/move?dry_run=1", `{"to":"n1"}`, call{Op: "move", Shard: 7, To: "n1", DryRun: true}},
		{"/v1/partitions/7/move", `{"to":"n1","dry_run":true}`, call{Op: "move", Shard: 7, To: "n1", DryRun: true}},
		// A bare flag is set: "?dry_run" must never carry the action out.
		{"/v1/rebalance?dry_run", "", call{Op: "rebalance", DryRun: true}},
		{"/v1/nodes/n2/drain?dry_run=&force", "", call{Op: "drain", Node: "n2", DryRun: true, Force: true}},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.body, func(t *testing.T) {
			h.fake.reset()
			r := h.do(t, "POST", tt.path, tt.body, testToken)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			mustKeys(t, "plan", r.JSON, "action", "dry_run", "version", "moves", "bytes", "estimate_ms", "summary")
			mustKeys(t, "move", r.obj(t)["moves"].([]any)[0], "shard", "from", "to", "role", "bytes")
			if calls := h.fake.Calls(); len(calls) != 1 || calls[0] != tt.want {
				t.Fatalf("backend calls = %+v, want [%+v]", calls, tt.want)
			}
			if got := r.obj(t)["dry_run"]; got != tt.want.DryRun {
				t.Errorf("dry_run in the answer = %v", got)
			}
		})
	}
	for _, bad := range []struct{ path, body string }{
		{"/v1/rebalance?dry_run=maybe", ""},
		{"/v1/rebalance", `{"to":"n1"}`},
		{"/v1/rebalance", `{"dryrun":true}`},
		{"/v1/partitions/7/move?dry_run=1", `{}`},
		// A misspelt option in the query is refused as it is in the body:
		// ignored, "?dry-run=1" carried the action out for real.
		{"/v1/partitions/7/move?dry-run=1", `{"to":"n1"}`},
		{"/v1/rebalance?dryrun=1", ""},
		{"/v1/nodes/n2/drain?dry_run=1&bogus=1", ""},
		{"/v1/nodes/n2/drain?token=x", ""},
	} {
		h.fake.reset()
		r := h.do(t, "POST", bad.path, bad.body, testToken)
		if r.Status != http.StatusBadRequest || len(h.fake.Calls()) != 0 {
			t.Errorf("POST %s %s = %d (calls %v), want 400 and no call", bad.path, bad.body, r.Status, h.fake.Calls())
		}
	}
}

// The event log credits an action to the X-Shardgate-Actor header as
// given, or to "operator" without one; a name it could not keep is refused
// instead of being replaced by "operator".
func TestActionActor(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct {
		header string
		status int
		actor  string
	}{
		{"", http.StatusOK, "operator from 192.0.2.1"},
		{"alice@ops-1", http.StatusOK, "alice@ops-1 from 192.0.2.1"},
		{strings.Repeat("a", 256), http.StatusOK, strings.Repeat("a", 256) + " from 192.0.2.1"},
		{strings.Repeat("a", 257), http.StatusBadRequest, ""},
		{"eve\x01", http.StatusBadRequest, ""},
		{"\xff\xfe", http.StatusBadRequest, ""},
	} {
		h.fake.reset()
		h.fake.mu.Lock()
		h.fake.actor = ""
		h.fake.mu.Unlock()
		req := httptest.NewRequest("POST", "/v1/rebalance?dry_run=1", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		if tt.header != "" {
			req.Header.Set(ActorHeader, tt.header)
		}
		rec := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(rec, req)
		h.fake.mu.Lock()
		got := h.fake.actor
		h.fake.mu.Unlock()
		if rec.Code != tt.status || got != tt.actor {
			t.Errorf("actor %.20q: status %d, logged as %q; want %d, %q", tt.header, rec.Code, got, tt.status, tt.actor)
		}
		if tt.status != http.StatusOK && !strings.Contains(rec.Body.String(), ActorHeader) {
			t.Errorf("actor %.20q: refusal %s does not name the header", tt.header, rec.Body)
		}
	}
}

// A refusal of the engine is a 409 with its reason.
func TestActionRefusedIsConflict(t *testing.T) {
	h := newHarness(t)
	h.fake.setErr(shardgate.Errorf(shardgate.KindConflict, "failover n2 refused: only 1 active node would remain; pass force to do it anyway"))
	r := h.do(t, "POST", "/v1/nodes/n2/failover", "", testToken)
	if r.Status != http.StatusConflict || mustErrorShape(t, r) != "conflict" || !strings.Contains(string(r.Body), "force") {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
}

// GET /v1/events replays the durable log (since, tail, Last-Event-ID),
// streams new entries with their sequence number as the SSE id, and
// answers a JSON page to a client that asks for JSON.
func TestEventLogReplayAndPage(t *testing.T) {
	f := newFake(16, 2)
	for i := 0; i < 5; i++ {
		f.appendLog(shardgate.LogEntry{Type: shardgate.LogAction, Action: "drain", Node: "n2", Reason: "entry"})
	}
	h := newHarnessWith(t, Config{Token: testToken, Heartbeat: time.Hour}, f)
	ts := httptest.NewServer(h.srv.Handler())
	defer ts.Close()
	auth := http.Header{"Authorization": {"Bearer " + testToken}}

	for _, tt := range []struct {
		query  string
		header http.Header
		first  string
	}{
		{"?since=2", nil, "3"},
		{"?tail=2", nil, "4"},
		{"?since=0", http.Header{"Last-Event-Id": {"4"}}, "5"},
	} {
		hdr := http.Header{}
		for k, v := range auth {
			hdr[k] = v
		}
		for k, v := range tt.header {
			hdr[k] = v
		}
		res, sse := openStream(t, ts.URL+"/v1/events"+tt.query, hdr)
		ev := sse.until(t, EventLog)
		if ev.ID != tt.first {
			t.Errorf("%s: first entry %s, want %s", tt.query, ev.ID, tt.first)
		}
		var e shardgate.LogEntry
		if err := json.Unmarshal([]byte(ev.Data), &e); err != nil || e.Action != "drain" {
			t.Errorf("entry = %s (%v)", ev.Data, err)
		}
		res.Body.Close()
	}

	// Without since: live only; a new entry arrives with the next id.
	res, sse := openStream(t, ts.URL+"/v1/events", auth)
	sse.until(t, EventSnapshot)
	f.appendLog(shardgate.LogEntry{Type: shardgate.LogMember, Action: "dead", Node: "n3"})
	if ev := sse.until(t, EventLog); ev.ID != "6" || !strings.Contains(ev.Data, `"dead"`) {
		t.Errorf("live entry = %+v", ev)
	}
	res.Body.Close()

	req := httptest.NewRequest("GET", "/v1/events?since=1&limit=2", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Accept", "application/json")
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	var page struct {
		Events  []shardgate.LogEntry `json:"events"`
		LastSeq uint64               `json:"last_seq"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || rec.Code != 200 {
		t.Fatalf("page: %d %s", rec.Code, rec.Body)
	}
	if len(page.Events) != 2 || page.Events[0].Seq != 2 || page.LastSeq != 6 {
		t.Errorf("page = %+v", page)
	}

	// Without since: the latest entries.
	req = httptest.NewRequest("GET", "/v1/events?limit=2", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Accept", "application/json")
	rec = httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || len(page.Events) != 2 || page.Events[0].Seq != 5 {
		t.Errorf("latest page = %+v (%v)", page, err)
	}
}
