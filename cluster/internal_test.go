package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEventQueueKeepsOrderWithoutAReader(t *testing.T) {
	q := newEventQueue()
	for i := range 100 {
		q.push(Event{Type: EventUpdate, Member: Member{Name: fmt.Sprint(i)}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Event)
	done := make(chan struct{})
	go func() { defer close(done); q.run(ctx, out) }()
	for i := range 100 {
		if e := <-out; e.Member.Name != fmt.Sprint(i) {
			t.Fatalf("event %d is %s", i, e.Member.Name)
		}
	}
	cancel()
	<-done
}

func TestEventQueueDropsOldestWhenFull(t *testing.T) {
	q := newEventQueue()
	for i := range maxQueuedEvents + 3 {
		q.push(Event{Member: Member{Name: fmt.Sprint(i)}})
	}
	items := q.take()
	if len(items) != maxQueuedEvents || items[0].Member.Name != "3" || q.Dropped() != 3 {
		t.Fatalf("len %d, first %s, dropped %d", len(items), items[0].Member.Name, q.Dropped())
	}
}

func TestPeerBook(t *testing.T) {
	b := newPeerBook()
	t0 := time.Unix(1000, 0)
	b.seen("a", "10.0.0.1:7946", t0)
	b.seen("b", "10.0.0.2:7946", t0)
	b.seen("c", "10.0.0.3:7946", t0)
	b.seen("c", "10.0.0.9:7946", t0) // restarted elsewhere: the new address wins
	b.departed("b", true, t0)        // left: not chased
	b.departed("c", false, t0)       // failed: chased
	alive := map[string]Member{"a": {}}

	got := b.absent(alive, t0.Add(time.Minute), time.Hour)
	if !slices.Equal(got, []string{"10.0.0.9:7946"}) {
		t.Fatalf("absent = %v", got)
	}
	if got := b.absent(alive, t0.Add(2*time.Hour), time.Hour); len(got) != 0 {
		t.Fatalf("peers gone past the reconnect timeout are still chased: %v", got)
	}
	if _, ok := b.byName["c"]; ok {
		t.Fatal("a peer gone past the reconnect timeout was not forgotten")
	}
	if _, ok := b.byName["a"]; !ok {
		t.Fatal("a live peer was forgotten")
	}
}

func TestFlattenMakesOneLine(t *testing.T) {
	in := errors.New("1 error occurred:\n\t* failed to join 10.0.0.1:7946: no installed keys could decrypt the message\n\n")
	got := flatten(in).Error()
	want := "failed to join 10.0.0.1:7946: no installed keys could decrypt the message (is the cluster key the same on every node?)"
	if got != want {
		t.Fatalf("flatten = %q", got)
	}
	if flatten(nil) != nil {
		t.Fatal("flatten(nil) != nil")
	}
}

func TestParseMemberlistLine(t *testing.T) {
	for _, tc := range []struct {
		in    string
		level slog.Level
		msg   string
	}{
		{"[DEBUG] memberlist: Stream connection from=x\n", slog.LevelDebug, "Stream connection from=x"},
		{"[ERR] memberlist: Failed push/pull merge", slog.LevelError, "Failed push/pull merge"},
		{"[WARN] memberlist: Refuting", slog.LevelWarn, "Refuting"},
		{"Err: Could not set the deadline", slog.LevelWarn, "Err: Could not set the deadline"},
	} {
		level, msg := parseMemberlistLine(tc.in)
		if level != tc.level || msg != tc.msg {
			t.Errorf("%q → %v %q", tc.in, level, msg)
		}
	}
}

func TestMetaEncodingIsCompactAndBounded(t *testing.T) {
	m := Meta{Name: "node-1", WSAddr: "10.0.0.1:8080", AdminAddr: "10.0.0.1:9090", State: "active",
		Partitions: 271, StartedAt: 1767225600000, TableVersion: 12}
	b, err := m.encode()
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"n":"node-1","w":"10.0.0.1:8080","a":"10.0.0.1:9090","s":"active","p":271,"t":1767225600000,"v":12}`
	if string(b) != want {
		t.Fatalf("encoded %s", b)
	}
	back, err := decodeMeta(b)
	if err != nil || back != m {
		t.Fatalf("decoded %+v, %v", back, err)
	}
	// The longest valid name and two long addresses must still fit.
	m.Name = strings.Repeat("n", 128)
	m.WSAddr = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"
	m.AdminAddr = m.WSAddr
	if b, err := m.encode(); err != nil || len(b) > MaxMetaBytes {
		t.Fatalf("a realistic maximum does not fit: %d bytes, %v", len(b), err)
	}
}

// countingHandler counts the records it is given and keeps the last.
type countingHandler struct {
	n    int
	last slog.Record
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.n++
	h.last = r
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// Junk packets on the gossip port make memberlist log a line each; the
// lines of one kind are limited, so that the packets cannot fill the
// node's disk, and the next line let through counts what was dropped.
func TestMemberlistLinesAreLimitedPerKind(t *testing.T) {
	h := &countingHandler{}
	now := time.Unix(1_700_000_000, 0)
	w := &memberlistLog{log: slog.New(h), now: func() time.Time { return now }}
	for i := range 100_000 {
		fmt.Fprintf(w, "[ERR] memberlist: discarding packet with unacceptable label \"\": from=10.0.0.%d:%d\n", i%250, i)
	}
	if h.n != logKindBurst {
		t.Fatalf("100,000 lines of one kind gave %d records, want %d", h.n, logKindBurst)
	}
	fmt.Fprint(w, "[WARN] memberlist: Refuting a suspect message\n")
	if h.n != logKindBurst+1 {
		t.Fatalf("a line of another kind was dropped too")
	}
	now = now.Add(logKindEvery * time.Second)
	fmt.Fprint(w, "[ERR] memberlist: discarding packet with unacceptable label \"\": from=10.0.0.1:1\n")
	if h.n != logKindBurst+2 {
		t.Fatalf("a line of the flooded kind %d s later was dropped", logKindEvery)
	}
	var dropped int64
	h.last.Attrs(func(a slog.Attr) bool {
		if a.Key == "similar_lines_dropped" {
			dropped = a.Value.Int64()
		}
		return true
	})
	if dropped != 100_000-logKindBurst {
		t.Fatalf("the line after the flood says %d similar lines were dropped, want %d", dropped, 100_000-logKindBurst)
	}
}
