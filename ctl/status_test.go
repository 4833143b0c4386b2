package ctl

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// status and nodes show what an operator must act on: a node whose disk
// is full (it refuses writes while it looks active) and shards whose home
// is down.
func TestStatusShowsFullDisksAndHomesDown(t *testing.T) {
	defer goleak.VerifyNone(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/cluster":
			w.Write([]byte(`{"version":7,"partitions":3,"backups":1,"coordinator":"n1","quorum":true,"nodes":[
				{"name":"n1","state":"active","coordinator":true},{"name":"n2","state":"active","disk_full":true},{"name":"n3","state":"dead"}]}`))
		case "/v1/partitions":
			w.Write([]byte(`{"version":7,"partitions":[
				{"id":0,"owner":"n1","backups":["n2"],"state":"stable"},
				{"id":1,"owner":"n3","backups":["n1"],"state":"stable","under_replicated":true,"home_down":true},
				{"id":2,"owner":"n2","backups":["n3"],"state":"stable","under_replicated":true}]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	out, err := ctlRun(t, srv.URL, "", "status")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"disk full, refusing writes: n2", "2 under-replicated, 1 without a live home"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	out, err = ctlRun(t, srv.URL, "", "nodes")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "active (disk full)") {
		t.Errorf("nodes does not mark n2's full disk:\n%s", out)
	}
}
