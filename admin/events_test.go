package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/testutil"
)

// sseEvent is one parsed frame of the stream.
type sseEvent struct {
	Name    string
	Data    string
	ID      string
	Comment bool
}

// sseReader parses "event:/data:" frames and ": comment" lines.
type sseReader struct{ sc *bufio.Scanner }

func (r *sseReader) next(tb testing.TB) sseEvent {
	tb.Helper()
	var ev sseEvent
	for r.sc.Scan() {
		line := r.sc.Text()
		switch {
		case line == "":
			if ev.Name != "" || ev.Data != "" || ev.Comment {
				return ev
			}
		case strings.HasPrefix(line, ":"):
			ev.Comment = true
		case strings.HasPrefix(line, "event: "):
			ev.Name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "id: "):
			ev.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			ev.Data += strings.TrimPrefix(line, "data: ")
		}
	}
	tb.Fatalf("stream ended: %v", r.sc.Err())
	return ev
}

// until reads frames until one named name arrives.
func (r *sseReader) until(tb testing.TB, name string) sseEvent {
	tb.Helper()
	for {
		if ev := r.next(tb); ev.Name == name {
			return ev
		}
	}
}

func openStream(tb testing.TB, url string, header http.Header) (*http.Response, *sseReader) {
	tb.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		tb.Fatalf("GET %s: status %d", url, res.StatusCode)
	}
	return res, &sseReader{sc: bufio.NewScanner(res.Body)}
}

func TestEventStream(t *testing.T) {
	h := newHarnessWith(t, Config{Token: testToken, StatsInterval: 20 * time.Millisecond, Heartbeat: 25 * time.Millisecond}, newFake(16, 2))
	ts := httptest.NewServer(h.srv.Handler())
	defer ts.Close()

	// Browsers pass the token as ?token= on EventSource.
	res, sse := openStream(t, ts.URL+"/v1/events?token="+testToken, nil)
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}

	first := sse.next(t)
	if first.Name != EventSnapshot {
		t.Fatalf("first event %q, want snapshot", first.Name)
	}
	var snap struct {
		Type string
		At   int64
		Data struct {
			Cluster    shardgate.ClusterView
			Partitions shardgate.PartitionsView
		}
	}
	if err := json.Unmarshal([]byte(first.Data), &snap); err != nil {
		t.Fatalf("snapshot data: %v: %s", err, first.Data)
	}
	if snap.Type != EventSnapshot || snap.At == 0 || len(snap.Data.Cluster.Nodes) != 2 || len(snap.Data.Partitions.Partitions) != 16 {
		t.Errorf("snapshot = %+v", snap)
	}

	h.fake.emit(shardgate.Event{Type: "member", At: 123, Data: map[string]string{"name": "n3", "state": "joining"}})
	ev := sse.until(t, "member")
	var got shardgate.Event
	if err := json.Unmarshal([]byte(ev.Data), &got); err != nil || got.Type != "member" || got.At != 123 {
		t.Errorf("member event = %s (%v)", ev.Data, err)
	}
	if !strings.Contains(ev.Data, `"name":"n3"`) {
		t.Errorf("member data lost: %s", ev.Data)
	}

	stats := sse.until(t, EventStats)
	var sv struct{ Data shardgate.ClusterView }
	if err := json.Unmarshal([]byte(stats.Data), &sv); err != nil || len(sv.Data.Nodes) != 2 {
		t.Errorf("stats = %s (%v)", stats.Data, err)
	}

	for ev := sse.next(t); !ev.Comment; ev = sse.next(t) {
	}

	// Closing the stream ends the handler and its subscription.
	res.Body.Close()
	testutil.Eventually(t, 5*time.Second, "the subscription to end", func() bool { return h.fake.subscribers() == 0 })
}

func TestEventStreamNeedsToken(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"/v1/events", "/v1/events?token=wrong"} {
		r := h.do(t, "GET", p, "", "")
		if r.Status != http.StatusUnauthorized {
			t.Errorf("%s: status %d", p, r.Status)
		}
		mustErrorShape(t, r)
	}
	if h.fake.subscribers() != 0 {
		t.Errorf("an unauthorised stream subscribed")
	}
}

func TestShutdownEndsStreamsAndLeaksNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	h := newHarnessWith(t, Config{Token: testToken}, newFake(16, 2))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- h.srv.Start(ln) }()

	base := "http://" + ln.Addr().String()
	res, sse := openStream(t, base+"/v1/events", http.Header{"Authorization": {"Bearer " + testToken}})
	defer res.Body.Close()
	sse.until(t, EventSnapshot)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Start returned %v after Shutdown", err)
	}
	for sse.sc.Scan() {
	}
	if h.fake.subscribers() != 0 {
		t.Errorf("subscription left behind")
	}
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
}
