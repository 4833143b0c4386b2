package link

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/testutil"
)

func TestCallRoundTrip(t *testing.T) {
	a := mustNode(t, "a", echoHandler, nil)
	b := mustNode(t, "b", echoHandler, nil)
	link(a, b)

	var got echoReply
	if err := a.m.Call(ctxTimeout(t, 5*time.Second), "b", "echo", map[string]int{"x": 1}, &got); err != nil {
		t.Fatal(err)
	}
	if got.From != "a" || got.Method != "echo" || string(got.Body) != `{"x":1}` {
		t.Fatalf("b saw %+v, want from a, method echo, body {\"x\":1}", got)
	}
	// Each node dials its own connection; both directions work.
	if err := b.m.Call(context.Background(), "a", "echo", nil, &got); err != nil {
		t.Fatal(err)
	}
	if got.From != "b" || string(got.Body) != "null" {
		t.Fatalf("a saw %+v, want from b with a null body", got)
	}
	if err := a.m.Call(context.Background(), "b", "echo", json.RawMessage(`[1,2]`), nil); err != nil {
		t.Fatalf("call with nil resp: %v", err)
	}
	if d, ok := a.m.QueueDepths()["b"]; !ok || d != 0 {
		t.Fatalf("QueueDepths()[b] = %d, %v; want 0, true", d, ok)
	}
}

func TestNotifyHandledInOrder(t *testing.T) {
	const n = 2000
	var mu sync.Mutex
	var seen []int
	h := HandlerFunc(func(_ context.Context, _, _ string, body json.RawMessage) (any, error) {
		var i int
		if err := json.Unmarshal(body, &i); err != nil {
			return nil, err
		}
		mu.Lock()
		seen = append(seen, i)
		mu.Unlock()
		return nil, nil
	})
	a := mustNode(t, "a", nil, nil)
	b := mustNode(t, "b", h, nil)
	link(a, b)
	for i := range n {
		if err := a.m.Notify(context.Background(), "b", "note", i); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "all notifications", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == n
	})
	for i, v := range seen {
		if v != i {
			t.Fatalf("notification %d handled at position %d: order lost", v, i)
		}
	}
}

func TestRemoteErrorKeepsKindAndMessage(t *testing.T) {
	h := HandlerFunc(func(_ context.Context, _, method string, _ json.RawMessage) (any, error) {
		switch method {
		case "conflict":
			return nil, fmt.Errorf("node: drain: %w", shardgate.Errorf(shardgate.KindConflict, "cannot drain the last node"))
		case "plain":
			return nil, errors.New("disk on fire")
		case "panic":
			panic("handler bug")
		case "number":
			return 42, nil
		}
		return nil, shardgate.Errorf(shardgate.KindMethodNotFound, "no method %s", method)
	})
	a := mustNode(t, "a", nil, nil)
	b := mustNode(t, "b", h, nil)
	link(a, b)
	ctx := ctxTimeout(t, 5*time.Second)

	err := a.m.Call(ctx, "b", "conflict", nil, nil)
	e := mustKind(t, err, shardgate.KindConflict)
	if e.Message != "cannot drain the last node" {
		t.Fatalf("message %q did not survive the wire", e.Message)
	}
	if !errors.Is(err, shardgate.ErrConflict) || !strings.HasPrefix(err.Error(), "link: call conflict on b: ") {
		t.Fatalf("error %q lost its sentinel or its context", err)
	}
	if e := mustKind(t, a.m.Call(ctx, "b", "plain", nil, nil), shardgate.KindInternal); e.Message != "disk on fire" {
		t.Fatalf("plain error arrived as %q", e.Message)
	}
	mustKind(t, a.m.Call(ctx, "b", "panic", nil, nil), shardgate.KindInternal)
	mustKind(t, a.m.Call(ctx, "b", "nope", nil, nil), shardgate.KindMethodNotFound)
	var s string
	mustKind(t, a.m.Call(ctx, "b", "number", nil, &s), shardgate.KindInternal) // result does not fit resp
	mustKind(t, a.m.Call(ctx, "b", "", nil, nil), shardgate.KindInvalid)
	mustKind(t, a.m.Call(ctx, "b", "x", make(chan int), nil), shardgate.KindInvalid)
	// The node still works after its handler panicked.
	var n int
	if err := a.m.Call(ctx, "b", "number", nil, &n); err != nil || n != 42 {
		t.Fatalf("after panic: %d, %v", n, err)
	}
}

func TestManyConcurrentCallsAreBatched(t *testing.T) {
	const calls = 10000
	a := mustNode(t, "a", echoHandler, nil)
	b := mustNode(t, "b", echoHandler, nil)
	link(a, b)
	if err := a.m.Call(context.Background(), "b", "warm", nil, nil); err != nil {
		t.Fatal(err)
	}
	outA, outB := a.m.stats.framesOut.Load(), b.m.stats.framesOut.Load()

	start := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var got echoReply
			err := a.m.Call(ctxTimeout(t, 30*time.Second), "b", "echo", i, &got)
			if err != nil || string(got.Body) != fmt.Sprint(i) {
				if failed.Add(1) == 1 {
					t.Errorf("call %d: %v, body %s", i, err, got.Body)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d calls failed", failed.Load(), calls)
	}
	reqFrames := a.m.stats.framesOut.Load() - outA
	respFrames := b.m.stats.framesOut.Load() - outB
	t.Logf("%d calls: %d request frames, %d response frames", calls, reqFrames, respFrames)
	if reqFrames >= calls || respFrames >= calls {
		t.Fatalf("no batching: %d request and %d response frames for %d calls", reqFrames, respFrames, calls)
	}
}

func TestFrameLimits(t *testing.T) {
	big := strings.Repeat("x", 5000)
	h := HandlerFunc(func(_ context.Context, _, method string, body json.RawMessage) (any, error) {
		if method == "big" {
			return big, nil
		}
		return len(body), nil
	})
	small := func(c *Config) { c.MaxFrameBytes = 4096 }
	a := mustNode(t, "a", nil, nil, small)
	b := mustNode(t, "b", h, nil, small)
	link(a, b)
	ctx := ctxTimeout(t, 10*time.Second)

	mustKind(t, a.m.Call(ctx, "b", "len", big, nil), shardgate.KindTooLarge)
	mustKind(t, a.m.Call(ctx, "b", "big", nil, nil), shardgate.KindTooLarge)

	// Many mid-sized calls at once: batches must be split under the limit,
	// or the receiver would drop the connection.
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n int
			errs <- a.m.Call(ctx, "b", "len", strings.Repeat("y", 1000), &n)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestQueueFullFailsFast(t *testing.T) {
	m, err := New(Config{Name: "a", QueueSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := newConn(m, nil, "b", true, codecBinary) // never started: nothing drains it
	defer c.cancel()
	for i := range 2 {
		if err := c.enqueue([]byte(`{}`)); err != nil {
			t.Fatalf("enqueue %d: %v", i, err)
		}
	}
	mustKind(t, c.enqueue([]byte(`{}`)), shardgate.KindUnavailable)
	if d := c.depth(); d != 2 {
		t.Fatalf("depth %d, want 2", d)
	}
}

// The queue is bounded in bytes too: an envelope that would take it over
// QueueBytes fails fast, unless the queue is empty (it could never go).
func TestQueueBytesFullFailsFast(t *testing.T) {
	m, err := New(Config{Name: "a", QueueBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := newConn(m, nil, "b", true, codecBinary) // never started: nothing drains it
	defer c.cancel()
	if err := c.enqueue([]byte(`{"b":"0123456789"}`)); err != nil {
		t.Fatalf("an envelope over the bound into an empty queue: %v", err)
	}
	mustKind(t, c.enqueue([]byte(`{}`)), shardgate.KindUnavailable)
	c.take()
	for i := range 5 {
		if err := c.enqueue([]byte(`{}`)); err != nil {
			t.Fatalf("enqueue %d after the writer took the queue: %v", i, err)
		}
	}
	mustKind(t, c.enqueue([]byte(`{}`)), shardgate.KindUnavailable)
	if d := c.depth(); d != 5 {
		t.Fatalf("depth %d, want 5 (10 bytes of 2-byte envelopes)", d)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Name: "a", ClusterKey: []byte("short")},
		{Name: "a", Path: "internal"},
		{Name: "a", QueueSize: -1},
		{Name: "a", QueueBytes: -1},
		{Name: "a", MaxFrameBytes: 100},
	} {
		if _, err := New(cfg); shardgate.KindOf(err) != shardgate.KindInvalid {
			t.Errorf("New(%+v) = %v, want an invalid-config error", cfg, err)
		}
	}
}
