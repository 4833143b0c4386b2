package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/testutil"
)

// fastConfig connects as key to nodes with short waits.
func fastConfig(key string, nodes ...string) Config {
	return Config{Nodes: nodes, User: key, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond, CallTimeout: 2 * time.Second, MovedDelay: time.Second}
}

func mustConnect(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := Connect(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// receive reads n messages and checks they are seqs from..from+n-1.
func receive(t *testing.T, c *Client, from uint64, n int) {
	t.Helper()
	for i := range n {
		want := from + uint64(i)
		select {
		case m, ok := <-c.Messages():
			if !ok || m.Seq != want {
				t.Fatalf("got seq %d (open %v), want %d", m.Seq, ok, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("seq %d never arrived", want)
		}
	}
	if c.LastSeq() != from+uint64(n)-1 {
		t.Fatalf("LastSeq %d, want %d", c.LastSeq(), from+uint64(n)-1)
	}
}

func TestClientResumesAcrossCuts(t *testing.T) {
	f := newFakeNode(t)
	for range 3 {
		f.store("alice", "before")
	}
	c := mustConnect(t, fastConfig("alice", f.hs.URL))
	receive(t, c, 1, 3) // no since: the node's start point
	next := uint64(4)
	for round := range 5 {
		f.cut()
		for range round + 1 { // stored while the client is away, or reconnecting
			f.store("alice", round)
		}
		receive(t, c, next, round+1)
		next += uint64(round + 1)
	}
	f.store("alice", "live")
	receive(t, c, next, 1)
	sinces := f.sinces()
	if sinces[0] != "" || !slices.Contains(sinces, "3") {
		t.Fatalf("connections asked since %q: want none first, then after the last seq received", sinces)
	}
	// A new connection delivers from its reader as soon as it is dialed;
	// the supervisor counts it a moment later, when it starts serving it.
	testutil.EventuallyExplained(t, 5*time.Second, "a reconnect counted for each of the 5 cuts", func() string {
		if s := c.Stats(); s.Reconnects < 5 {
			return fmt.Sprintf("stats %+v", s)
		}
		return ""
	})
}

func TestClientSinceConfig(t *testing.T) {
	f := newFakeNode(t)
	for range 5 {
		f.store("alice", 1)
	}
	since := uint64(3)
	cfg := fastConfig("alice", f.url)
	cfg.Since = &since
	c := mustConnect(t, cfg)
	receive(t, c, 4, 2)
}

func TestClientSendRetriesWithSameID(t *testing.T) {
	f := newFakeNode(t)
	c := mustConnect(t, fastConfig("alice", f.url))
	f.mu.Lock()
	f.loseNext = true
	f.mu.Unlock()
	r, err := c.Send(ctxT(t), "bob", "hi", "m1")
	if err != nil || r.Seq != 1 {
		t.Fatalf("send %+v, %v", r, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.attempts["m1"] != 2 || len(f.inbox["bob"]) != 1 {
		t.Fatalf("%d attempts, %d stored: want 2 attempts of one message", f.attempts["m1"], len(f.inbox["bob"]))
	}
}

func TestClientSlowApplicationLosesNothing(t *testing.T) {
	f := newFakeNode(t)
	cfg := fastConfig("alice", f.url)
	cfg.Buffer = 4
	c := mustConnect(t, cfg)
	for range 50 {
		f.store("alice", "x")
	}
	// Calls are answered while the application reads nothing.
	if _, err := c.Presence(ctxT(t), "bob"); err != nil {
		t.Fatal(err)
	}
	receive(t, c, 1, 50)
	if n := len(f.sinces()); n != 1 {
		t.Fatalf("%d connections: a slow application must not cost a reconnect", n)
	}
	select {
	case m := <-c.Messages():
		t.Fatalf("extra message %+v", m)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestClientFollowsMovedWhenIdle(t *testing.T) {
	a, b := newFakeNode(t), newFakeNode(t)
	c := mustConnect(t, fastConfig("alice", a.url))
	a.store("alice", 1)
	receive(t, c, 1, 1)
	b.store("alice", 1) // the new home holds the same inbox
	b.store("alice", 2)
	a.moved(b.url)
	testutil.Eventually(t, 5*time.Second, "connected to the new home only", func() bool { return b.connCount() == 1 && a.connCount() == 0 })
	receive(t, c, 2, 1)
	if s := b.sinces(); len(s) != 1 || s[0] != "1" {
		t.Fatalf("the new home was asked since %q, want 1", s)
	}
}

func TestClientResubscribes(t *testing.T) {
	f := newFakeNode(t)
	c := mustConnect(t, fastConfig("alice", f.url))
	if err := c.Subscribe(ctxT(t), "news"); err != nil {
		t.Fatal(err)
	}
	f.cut()
	testutil.Eventually(t, 5*time.Second, "a publication after the reconnect", func() bool {
		f.publish("news", 1) // the dead connection may still count for a moment
		select {
		case p := <-c.Publications():
			return p.Topic == "news"
		case <-time.After(20 * time.Millisecond):
			return false
		}
	})
}

func TestClientBatchedReplay(t *testing.T) {
	f := newFakeNode(t)
	f.batch = true
	for range 3 {
		f.store("alice", 1)
	}
	c := mustConnect(t, fastConfig("alice", f.url))
	receive(t, c, 1, 3)
}

func TestClientRouteThenFallback(t *testing.T) {
	f := newFakeNode(t)
	f.routeTo = "ws://127.0.0.1:1/v1/ws" // a home that cannot be reached
	c := mustConnect(t, fastConfig("alice", f.hs.URL))
	if c.Welcome().Key != "alice" {
		t.Fatalf("welcome %+v", c.Welcome())
	}
}

func TestClientStopsOnRefusal(t *testing.T) {
	for _, tc := range []struct {
		code int
		want error
	}{{4001, shardgate.ErrUnauthorized}, {4003, shardgate.ErrForbidden}} {
		f := newFakeNode(t)
		f.refuse = tc.code
		_, err := Connect(ctxT(t), fastConfig("alice", f.url))
		if !errors.Is(err, tc.want) {
			t.Errorf("refused with %d: %v, want %v", tc.code, err, tc.want)
		}
	}
	// A refusal later in the client's life stops it too, and says why.
	f := newFakeNode(t)
	c := mustConnect(t, fastConfig("alice", f.url))
	f.mu.Lock()
	f.refuse = 4001
	f.mu.Unlock()
	f.cut()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client still running after a refusal")
	}
	if !errors.Is(c.Err(), shardgate.ErrUnauthorized) {
		t.Fatalf("Err %v", c.Err())
	}
	if _, err := c.Send(ctxT(t), "bob", 1, ""); !errors.Is(err, shardgate.ErrUnauthorized) {
		t.Fatalf("send after the stop: %v", err)
	}
}

func TestConnectSaysWhyItWaited(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Connect(ctx, fastConfig("alice", "ws://127.0.0.1:1"))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("connect to nothing: %v, want the deadline and the last attempt's error", err)
	}
}

func TestClientCloseEndsCalls(t *testing.T) {
	c, err := New(fastConfig("alice", "ws://127.0.0.1:1")) // never connects
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, err := c.Send(context.Background(), "bob", 1, ""); errc <- err }()
	c.Close()
	if err := <-errc; !errors.Is(err, ErrClientClosed) {
		t.Fatalf("send during close: %v", err)
	}
	if _, ok := <-c.Messages(); ok {
		t.Fatal("Messages still open")
	}
}

func TestBackoffFullJitter(t *testing.T) {
	cfg := Config{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	for _, tc := range []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{1, 0.5, 50 * time.Millisecond},
		{2, 0.5, 100 * time.Millisecond},
		{3, 0.999, 399600 * time.Microsecond},
		{4, 1, 800 * time.Millisecond},
		{5, 1, time.Second}, // capped
		{60, 1, time.Second},
		{3, 0, 0},
	} {
		cfg.Rand = func() float64 { return tc.r }
		if got := cfg.backoff(tc.attempt); got != tc.want {
			t.Errorf("attempt %d, draw %v: %v, want %v", tc.attempt, tc.r, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{Nodes: []string{"ws://h:1"}, User: "a"}, true},
		{Config{Nodes: []string{"http://h:1/v1/ws"}, Token: "t"}, true},
		{Config{User: "a"}, false},
		{Config{Nodes: []string{"ws://h:1"}}, false},
		{Config{Nodes: []string{"ws://h:1"}, User: "a", Token: "t"}, false},
		{Config{Nodes: []string{"ftp://h:1"}, User: "a"}, false},
		{Config{Nodes: []string{"ws://h:1"}, User: "a", MinBackoff: time.Second, MaxBackoff: time.Millisecond}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.cfg, err)
		}
	}
	if k := (Config{Token: "x.eyJzdWIiOiJhbGljZSJ9.y"}).withDefaults().Key; k != "alice" {
		t.Errorf("key from token: %q", k)
	}
}

// A reconnect while the application is behind: the new connection's
// replay finds the buffer full too, and what it drops must still be read
// back, even though nothing new arrives afterwards.
func TestClientReconnectWhileBehind(t *testing.T) {
	f := newFakeNode(t)
	cfg := fastConfig("alice", f.url)
	cfg.Buffer = 2
	c := mustConnect(t, cfg)
	for range 10 {
		f.store("alice", "x")
	}
	testutil.Eventually(t, 5*time.Second, "the buffer full", func() bool {
		c.in.mu.Lock()
		defer c.in.mu.Unlock()
		return c.in.behind
	})
	f.cut()
	testutil.Eventually(t, 5*time.Second, "reconnected", func() bool { return len(f.sinces()) == 2 && f.connCount() == 1 })
	testutil.Eventually(t, 5*time.Second, "the replay seen", func() bool { // it is what must not be lost
		c.in.mu.Lock()
		defer c.in.mu.Unlock()
		return c.in.highest == 10
	})
	receive(t, c, 1, 10)
}

// A node that goes silent (no frames, no pings) is given up after
// IdleTimeout; one that pings is kept.
func TestClientIdleTimeout(t *testing.T) {
	silent := newFakeNode(t)
	cfg := fastConfig("alice", silent.url)
	cfg.IdleTimeout = 100 * time.Millisecond
	mustConnect(t, cfg)
	testutil.Eventually(t, 5*time.Second, "a reconnect after the silence", func() bool { return len(silent.sinces()) >= 2 })

	pinging := newFakeNode(t)
	pinging.ping = 20 * time.Millisecond
	cfg = fastConfig("alice", pinging.url)
	// Twenty pings to an idle timeout, so that a scheduler stall on a
	// loaded machine does not pass for silence.
	cfg.IdleTimeout = 400 * time.Millisecond
	c := mustConnect(t, cfg)
	time.Sleep(1200 * time.Millisecond) // three idle timeouts: pings must keep it
	if n := len(pinging.sinces()); n != 1 || c.Stats().Reconnects != 0 {
		t.Fatalf("%d connections to a node that pings", n)
	}
	pinging.store("alice", 1)
	receive(t, c, 1, 1)
}

// A retried call keeps its caller's deadline: the pause before the next
// try ends with it, instead of overrunning it by a whole backoff.
func TestClientRetryKeepsTheCallersDeadline(t *testing.T) {
	f := newFakeNode(t)
	cfg := fastConfig("alice", f.url)
	cfg.MinBackoff, cfg.MaxBackoff = 3*time.Second, 3*time.Second
	c := mustConnect(t, cfg)
	f.failNext("send", 100, fakeErr{code: shardgate.CodeUnavailable, msg: "shard moving"})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Send(ctx, "bob", 1, "id1")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "shard moving") {
		t.Fatalf("send against a node that answers 1003: %v, want the deadline with the last answer", err)
	}
	if waited := time.Since(start); waited >= cfg.MinBackoff {
		t.Fatalf("a call with 300 ms returned after %v: it slept a whole backoff past its deadline", waited)
	}
}

// A subscription refused for a moment on a new connection (1002: the
// burst of re-subscriptions hit the rate) is tried again, not dropped.
func TestClientResubscribeRetriesARateLimitedTopic(t *testing.T) {
	f := newFakeNode(t)
	c := mustConnect(t, fastConfig("alice", f.url))
	if err := c.Subscribe(ctxT(t), "news"); err != nil {
		t.Fatal(err)
	}
	f.failNext("subscribe", 2, fakeErr{code: shardgate.CodeRateLimited, msg: "rate limited"})
	f.cut()
	testutil.Eventually(t, 5*time.Second, "a publication after the reconnect", func() bool {
		f.publish("news", 1)
		select {
		case p := <-c.Publications():
			return p.Topic == "news"
		case <-time.After(20 * time.Millisecond):
			return false
		}
	})
}

// With a TokenFunc, a call refused because the connection's token expired
// (1001, then close 4001) is made again on the next connection, which has
// a fresh token: an expired token is replaced, not an error for the app.
func TestClientCallAfterTokenExpiryIsRetried(t *testing.T) {
	f := newFakeNode(t)
	cfg := fastConfig("", f.url)
	cfg.User = ""
	var asked atomic.Int32
	cfg.TokenFunc = func(context.Context) (string, error) { asked.Add(1); return "tok", nil }
	c := mustConnect(t, cfg)
	f.failNext("send", 1, fakeErr{code: shardgate.CodeUnauthorized, msg: "token expired: reconnect with a new one", close: 4001})
	r, err := c.Send(ctxT(t), "bob", 1, "id1")
	if err != nil || r.Seq != 1 {
		t.Fatalf("send across a token expiry: %+v, %v", r, err)
	}
	if asked.Load() < 2 {
		t.Fatalf("TokenFunc asked %d times, want a new token for the new connection", asked.Load())
	}

	// Any other 1001 (the token does not allow the recipient) is the app's.
	f.failNext("send", 1, fakeErr{code: shardgate.CodeUnauthorized, msg: "forbidden: your token may not send to carol"})
	var re *RPCError
	if _, err := c.Send(ctxT(t), "carol", 1, "id2"); !errors.As(err, &re) || re.Code != shardgate.CodeUnauthorized {
		t.Fatalf("send refused by the token's claims: %v, want the 1001", err)
	}
}

// State names the URL of the connection, as documented, once connected.
func TestStateNamesTheConnectedURL(t *testing.T) {
	f := newFakeNode(t)
	cfg := fastConfig("alice", f.url)
	states := make(chan State, 16)
	cfg.OnState = func(s State) {
		select {
		case states <- s:
		default:
		}
	}
	mustConnect(t, cfg)
	for {
		select {
		case s := <-states:
			if !s.Connected {
				continue
			}
			if !strings.HasPrefix(s.URL, f.url) {
				t.Fatalf("connected state %+v, want the URL %s", s, f.url)
			}
			return
		case <-time.After(5 * time.Second):
			t.Fatal("no connected state")
		}
	}
}
