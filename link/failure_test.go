package link

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/testutil"
)

// blockingHandler answers "block" only when released or cancelled, and
// signals each start on started.
type blockingHandler struct {
	started chan struct{}
	release chan struct{}
}

func newBlocking() *blockingHandler {
	return &blockingHandler{started: make(chan struct{}, 100), release: make(chan struct{})}
}

func (h *blockingHandler) HandleLink(ctx context.Context, _, method string, _ json.RawMessage) (any, error) {
	if method != "block" {
		return "ok", nil
	}
	h.started <- struct{}{}
	select {
	case <-h.release:
		return "released", nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestPeerDownFailsFast(t *testing.T) {
	a := mustNode(t, "a", nil, nil)
	a.m.SetPeer("b", freeAddr(t))

	begin := time.Now()
	err := a.m.Call(ctxTimeout(t, 5*time.Second), "b", "x", nil, nil)
	mustKind(t, err, shardgate.KindUnavailable)
	if d := time.Since(begin); d > time.Second {
		t.Fatalf("refused dial took %v to fail", d)
	}
	// While backing off, calls fail without dialing, with the reason.
	begin = time.Now()
	err = a.m.Call(ctxTimeout(t, 5*time.Second), "b", "x", nil, nil)
	mustKind(t, err, shardgate.KindUnavailable)
	if !strings.Contains(err.Error(), "next dial in") || time.Since(begin) > 100*time.Millisecond {
		t.Fatalf("second call: %v after %v; want an immediate backoff error", err, time.Since(begin))
	}
	mustKind(t, a.m.Call(context.Background(), "nobody", "x", nil, nil), shardgate.KindUnavailable)
}

func TestPeerRestartIsRedialed(t *testing.T) {
	a := mustNode(t, "a", nil, nil)
	b := mustNode(t, "b", echoHandler, nil)
	link(a, b)
	if err := a.m.Call(ctxTimeout(t, 5*time.Second), "b", "echo", nil, nil); err != nil {
		t.Fatal(err)
	}
	b.stop()
	mustKind(t, a.m.Call(ctxTimeout(t, time.Second), "b", "echo", nil, nil), shardgate.KindUnavailable)

	l, err := net.Listen("tcp", b.addr) // the same address, as after a process restart
	if err != nil {
		t.Fatal(err)
	}
	mustNode(t, "b", echoHandler, l)
	testutil.Eventually(t, 5*time.Second, "a call to the restarted peer", func() bool {
		return a.m.Call(ctxTimeout(t, time.Second), "b", "echo", nil, nil) == nil
	})
}

func TestSetPeerNewAddress(t *testing.T) {
	answer := func(s string) Handler {
		return HandlerFunc(func(context.Context, string, string, json.RawMessage) (any, error) { return s, nil })
	}
	a := mustNode(t, "a", nil, nil)
	b1 := mustNode(t, "b", answer("first"), nil)
	b2 := mustNode(t, "b", answer("second"), nil)
	c := mustNode(t, "c", nil, nil)
	ctx := ctxTimeout(t, 5*time.Second)

	var got string
	a.m.SetPeer("b", b1.addr)
	if err := a.m.Call(ctx, "b", "who", nil, &got); err != nil || got != "first" {
		t.Fatalf("got %q, %v", got, err)
	}
	a.m.SetPeer("b", b2.addr)
	if err := a.m.Call(ctx, "b", "who", nil, &got); err != nil || got != "second" {
		t.Fatalf("after address change got %q, %v", got, err)
	}
	// An address that answers with another name is refused, not used.
	a.m.SetPeer("b", c.addr)
	err := a.m.Call(ctx, "b", "who", nil, &got)
	mustKind(t, err, shardgate.KindUnavailable)
	if !strings.Contains(err.Error(), `says it is "c"`) {
		t.Fatalf("wrong-node error %q does not say who answered", err)
	}
}

func TestAllowHookDropsFrames(t *testing.T) {
	var aToB, bToA atomic.Bool // true = blocked
	allow := func(from, to string) bool {
		return !(from == "a" && to == "b" && aToB.Load()) && !(from == "b" && to == "a" && bToA.Load())
	}
	var handled atomic.Int64
	h := HandlerFunc(func(context.Context, string, string, json.RawMessage) (any, error) {
		handled.Add(1)
		return nil, nil
	})
	opt := func(c *Config) { c.Allow = allow }
	a := mustNode(t, "a", nil, nil, opt)
	b := mustNode(t, "b", h, nil, opt)
	link(a, b)
	call := func(d time.Duration) error { return a.m.Call(ctxTimeout(t, d), "b", "x", nil, nil) }
	if err := call(5 * time.Second); err != nil {
		t.Fatal(err)
	}

	aToB.Store(true) // requests vanish: the handler never runs
	err := call(200 * time.Millisecond)
	mustKind(t, err, shardgate.KindUnavailable)
	if !errors.Is(err, context.DeadlineExceeded) || handled.Load() != 1 {
		t.Fatalf("blocked call: %v, handled %d times", err, handled.Load())
	}
	aToB.Store(false)
	bToA.Store(true) // answers vanish: the handler runs, the caller times out
	mustKind(t, call(200*time.Millisecond), shardgate.KindUnavailable)
	testutil.Eventually(t, time.Second, "the request to reach b", func() bool { return handled.Load() == 2 })
	bToA.Store(false)
	if err := call(5 * time.Second); err != nil {
		t.Fatalf("after healing: %v", err)
	}

	// Without a connection, a blocked link fails to dial, at once.
	a.m.RemovePeer("b")
	a.m.SetPeer("b", b.addr)
	bToA.Store(true)
	begin := time.Now()
	mustKind(t, call(5*time.Second), shardgate.KindUnavailable)
	if time.Since(begin) > 100*time.Millisecond {
		t.Fatalf("blocked dial took %v", time.Since(begin))
	}
	bToA.Store(false)
	if err := call(5 * time.Second); err != nil {
		t.Fatalf("after healing: %v", err)
	}
}

func TestContextCancellation(t *testing.T) {
	h := newBlocking()
	defer close(h.release)
	a := mustNode(t, "a", nil, nil, func(c *Config) { c.CallTimeout = 100 * time.Millisecond })
	b := mustNode(t, "b", h, nil)
	link(a, b)

	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-h.started; cancel() }()
	err := a.m.Call(ctx, "b", "block", nil, nil)
	mustKind(t, err, shardgate.KindUnavailable)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	// Without a deadline on ctx, CallTimeout applies.
	begin := time.Now()
	err = a.m.Call(context.Background(), "b", "block", nil, nil)
	mustKind(t, err, shardgate.KindUnavailable)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(begin) > 2*time.Second {
		t.Fatalf("call without deadline: %v after %v", err, time.Since(begin))
	}
	// A late answer to an abandoned call is ignored; the link still works.
	var got string
	if err := a.m.Call(ctxTimeout(t, 5*time.Second), "b", "other", nil, &got); err != nil || got != "ok" {
		t.Fatalf("after cancellations: %q, %v", got, err)
	}
}

func TestRemovePeerFailsPendingCalls(t *testing.T) {
	h := newBlocking()
	defer close(h.release)
	a := mustNode(t, "a", nil, nil)
	b := mustNode(t, "b", h, nil)
	link(a, b)

	errc := make(chan error, 1)
	go func() { errc <- a.m.Call(ctxTimeout(t, 10*time.Second), "b", "block", nil, nil) }()
	<-h.started
	a.m.RemovePeer("b")
	select {
	case err := <-errc:
		mustKind(t, err, shardgate.KindUnavailable)
	case <-time.After(2 * time.Second):
		t.Fatal("pending call outlived RemovePeer")
	}
	err := a.m.Call(context.Background(), "b", "x", nil, nil)
	if !strings.Contains(err.Error(), "no address known") {
		t.Fatalf("call to removed peer: %v", err)
	}
}

func TestCloseFailsPendingAndLeaksNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	h := newBlocking() // never released: Close must cancel the handler
	a := mustNode(t, "a", nil, nil)
	b := mustNode(t, "b", h, nil)
	link(a, b)

	errc := make(chan error, 1)
	go func() { errc <- a.m.Call(context.Background(), "b", "block", nil, nil) }()
	<-h.started
	go a.m.Notify(context.Background(), "b", "note", 1)
	a.stop()
	err := <-errc
	mustKind(t, err, shardgate.KindUnavailable)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("pending call after Close: %v", err)
	}
	mustKind(t, a.m.Call(context.Background(), "b", "x", nil, nil), shardgate.KindUnavailable)
	if err := a.m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	b.stop() // returns only once the blocked handler has seen its ctx end
}
