package ctl

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shardgate/shardgate/internal/testutil"
)

const (
	entry1 = `{"seq":4,"at":1764586800000,"version":12,"type":"action","actor":"alice@h from 10.0.0.9","action":"drain","node":"n3","reason":"kernel upgrade","moves":[{"shard":1},{"shard":2}]}`
	entry2 = `{"seq":5,"at":1764586801000,"version":13,"type":"table","shard":7,"changes":[{"shard":7}]}`
)

// TestEventsLogPage: without --follow, a server with the JSON page is read
// once, with since/tail/limit passed on, and printed an entry a line.
func TestEventsLogPage(t *testing.T) {
	defer goleak.VerifyNone(t)
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/events" || !strings.Contains(r.Header.Get("Accept"), "application/json") {
			http.Error(w, "unexpected", http.StatusTeapot)
			return
		}
		query = r.URL.RawQuery
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"events":[%s,%s],"last_seq":9}`, entry1, entry2)
	}))
	defer srv.Close()

	out, err := ctlRun(t, srv.URL, "", "events", "--since", "3", "--limit", "2")
	if err != nil {
		t.Fatal(err)
	}
	if query != "limit=2&since=3" {
		t.Errorf("query %q", query)
	}
	for _, want := range []string{"#4 ", "action    drain, n3, table v12, by alice@h from 10.0.0.9, 2 move(s): kernel upgrade", "#5 ", "shard 7", "1 shard(s) changed", "(2 entries; the log is at #9)"} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	out, err = ctlRun(t, srv.URL, "", "events", "--json")
	if err != nil {
		t.Fatal(err)
	}
	m := decodeObject(t, "events --json", out)
	hasKeys(t, "events --json", m, "events", "last_seq")
	if _, err := ctlRun(t, srv.URL, "", "events", "--tail", "x"); err == nil || !strings.Contains(err.Error(), `--tail "x" is not a number`) {
		t.Errorf("bad --tail: %v", err)
	}
}

// TestEventsStreamOnly: a server that only streams gets read until it is
// quiet; log entries print as entries, stats are skipped.
func TestEventsStreamOnly(t *testing.T) {
	defer goleak.VerifyNone(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "retry: 2000\n\nid: 4\nevent: log\ndata: %s\n\nevent: stats\ndata: {\"type\":\"stats\",\"data\":{}}\n\n", entry1)
		w.(http.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
				fmt.Fprint(w, "event: stats\ndata: {\"type\":\"stats\",\"data\":{}}\n\n")
				w.(http.Flusher).Flush()
			}
		}
	}))
	defer srv.Close()
	defer srv.CloseClientConnections()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out testutil.Buffer
	if err := Run(ctx, testEnv(&out, srv.URL, ""), []string{"events", "--wait", "300ms"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "#4 ") || !strings.Contains(out.String(), "kernel upgrade") || strings.Contains(out.String(), "stats") {
		t.Errorf("output:\n%s", out.String())
	}
	if ctx.Err() != nil {
		t.Error("events did not stop when the stream went quiet but for stats")
	}
}
