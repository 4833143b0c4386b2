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
	srv := fakeViews(`{"version":7,"partitions":3,"backups":1,"coordinator":"n1","quorum":true,"nodes":[
				{"name":"n1","state":"active","coordinator":true},{"name":"n2","state":"active","disk_full":true},{"name":"n3","state":"dead"}]}`,
		`{"version":7,"partitions":[
				{"id":0,"owner":"n1","backups":["n2"],"state":"stable"},
				{"id":1,"owner":"n3","backups":["n1"],"state":"stable","under_replicated":true,"home_down":true},
				{"id":2,"owner":"n2","backups":["n3"],"state":"stable","under_replicated":true}]}`)
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

// A cluster shrunk below 1+B members holds fewer copies than --backups
// asks for, which the under-replicated count does not show (no node is
// there to take a copy): status warns.
func TestStatusWarnsOfFewerCopiesThanBackupsAskFor(t *testing.T) {
	defer goleak.VerifyNone(t)
	srv := fakeViews(`{"version":9,"partitions":2,"backups":1,"coordinator":"n3","quorum":true,"nodes":[
				{"name":"n3","state":"active","coordinator":true}]}`,
		`{"version":9,"partitions":[
				{"id":0,"owner":"n3","backups":[],"state":"stable"},
				{"id":1,"owner":"n3","backups":[],"state":"stable"}]}`)
	defer srv.Close()
	out, err := ctlRun(t, srv.URL, "", "status")
	if err != nil {
		t.Fatal(err)
	}
	if want := "2 shards hold fewer than the 2 copies --backups 1 asks for"; !strings.Contains(out, want) {
		t.Errorf("status lacks %q:\n%s", want, out)
	}
	out, err = ctlRun(t, srv.URL, "", "status", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if want := `"fewer_copies_than_wanted": 2`; !strings.Contains(out, want) {
		t.Errorf("status --json lacks %s:\n%s", want, out)
	}
}

// fakeViews serves the two views status reads.
func fakeViews(cluster, partitions string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/cluster":
			w.Write([]byte(cluster))
		case "/v1/partitions":
			w.Write([]byte(partitions))
		default:
			http.NotFound(w, r)
		}
	}))
}
