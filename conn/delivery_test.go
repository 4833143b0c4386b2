package conn

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/client"
	"github.com/shardgate/shardgate/internal/testutil"
)

// expectSeqs reads messages until want arrives and checks that they are
// exactly from..want, in order.
func expectSeqs(t *testing.T, c *client.Conn, from, want uint64) {
	t.Helper()
	next := from
	timeout := time.After(10 * time.Second)
	for next <= want {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				t.Fatalf("connection ended (code %d) before seq %d", c.CloseCode(), next)
			}
			if m.Seq != next {
				t.Fatalf("got seq %d, want %d", m.Seq, next)
			}
			next++
		case <-timeout:
			t.Fatalf("timed out at seq %d of %d", next, want)
		}
	}
	select {
	case m := <-c.Messages():
		t.Fatalf("unexpected extra message %d", m.Seq)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestReplayHandsOverToLive replays a stored inbox in small, slow pages
// while live messages keep arriving with duplicates, reordering and gaps.
// The client must see 1..N exactly once, in order.
func TestReplayHandsOverToLive(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.HistoryPage = 7; c.SendQueue = 64 })
	h.be.manualDelivery = true
	h.be.historyDelay = time.Millisecond
	const stored, live = 150, 250
	all := h.be.storeN("bob", stored)

	var wg sync.WaitGroup
	start := make(chan struct{})
	wg.Go(func() {
		<-start
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range live {
			m := h.be.store("bob", "alice", nil, "")
			all = append(all, m)
			batch := []shardgate.Message{m}
			switch r := rng.IntN(10); {
			case r < 2 && i > 0: // a duplicate of an older message
				batch = append(batch, all[rng.IntN(len(all))])
			case r < 4 && i > 0: // out of order: the previous one again, after
				batch = append(batch, all[len(all)-2])
			case r < 6 && i < live-1: // a gap: this one is never delivered live
				batch = nil
			}
			h.srv.Deliver("bob", batch)
			if i%16 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	})
	since := uint64(0)
	go close(start)
	bob := h.dial(t, "bob", client.Options{Since: &since})
	expectSeqs(t, bob, 1, stored+live)
	wg.Wait()
	h.srv.Deliver("bob", all[:10]) // late duplicates change nothing
	h.srv.Deliver("bob", []shardgate.Message{h.be.store("bob", "alice", nil, "")})
	expectSeqs(t, bob, stored+live+1, stored+live+1)
}

func TestLiveGapFilledFromHistory(t *testing.T) {
	h := newHarness(t, nil)
	h.be.manualDelivery = true
	bob := h.dial(t, "bob", client.Options{})
	msgs := h.be.storeN("bob", 6)
	h.srv.Deliver("bob", []shardgate.Message{msgs[0]})
	h.srv.Deliver("bob", []shardgate.Message{msgs[3], msgs[5]}) // 2, 3 and 5 missing
	h.srv.Deliver("bob", []shardgate.Message{msgs[0], msgs[3]}) // duplicates
	expectSeqs(t, bob, 1, 6)
}

func TestOutOfOrderFromPendingWithoutHistory(t *testing.T) {
	h := newHarness(t, nil)
	h.be.manualDelivery = true
	bob := h.dial(t, "bob", client.Options{})
	h.be.mu.Lock()
	calls := h.be.historyCalls
	h.be.mu.Unlock()
	msgs := h.be.storeN("bob", 3)
	h.srv.Deliver("bob", []shardgate.Message{msgs[2], msgs[1], msgs[0]})
	expectSeqs(t, bob, 1, 3)
	h.be.mu.Lock()
	defer h.be.mu.Unlock()
	if h.be.historyCalls != calls {
		t.Fatalf("reordering inside one delivery needed %d history reads", h.be.historyCalls-calls)
	}
}

// TestStartPoint holds the start points of docs/PROTOCOL.md: without since, after
// the ack cursor (the whole retained inbox for a key that never acked);
// since=SEQ after SEQ; since=now live only.
func TestStartPoint(t *testing.T) {
	h := newHarness(t, nil)
	h.be.storeN("bob", 5)

	// No since, never acked: everything retained, then live.
	fresh := h.dial(t, "bob", client.Options{})
	if fresh.Welcome().LastSeq != 5 {
		t.Fatalf("welcome last_seq %d", fresh.Welcome().LastSeq)
	}
	expectSeqs(t, fresh, 1, 5)

	// since=now: live only.
	live := h.dial(t, "bob", client.Options{LiveOnly: true})
	if live.LastSeq() != 5 {
		t.Fatalf("live-only LastSeq %d, want the welcome's 5", live.LastSeq())
	}
	m := h.be.store("bob", "alice", nil, "")
	h.srv.Deliver("bob", []shardgate.Message{m})
	expectSeqs(t, fresh, 6, 6)
	expectSeqs(t, live, 6, 6)

	// No since, cursor at 3: resume after it.
	if err := fresh.Ack(ctxT(t), 3); err != nil {
		t.Fatal(err)
	}
	resumed := h.dial(t, "bob", client.Options{})
	expectSeqs(t, resumed, 4, 6)

	// since wins over the cursor.
	since := uint64(1)
	replay := h.dial(t, "bob", client.Options{Since: &since})
	expectSeqs(t, replay, 2, 6)
}

// A since beyond the inbox's end (kept through a loss of the inbox's
// tail, or made up) replays nothing, and the connection still receives
// every message acknowledged after it opened: it used to skip the next
// ones, up to that since, for good.
func TestSinceBeyondTheEndMissesNoLiveMessage(t *testing.T) {
	h := newHarness(t, nil)
	h.be.storeN("bob", 3)
	since := uint64(5)
	bob := h.dial(t, "bob", client.Options{Since: &since})
	if got := bob.Welcome().LastSeq; got != 3 {
		t.Fatalf("welcome last_seq %d, want 3", got)
	}
	for range 4 {
		m := h.be.store("bob", "alice", nil, "")
		h.srv.Deliver("bob", []shardgate.Message{m})
	}
	expectSeqs(t, bob, 4, 7)
}

func TestHistoryFailureRetried(t *testing.T) {
	h := newHarness(t, nil)
	h.be.storeN("bob", 4)
	h.be.fail("history", shardgate.Errorf(shardgate.KindUnavailable, "shard moving"))
	since := uint64(0)
	bob := h.dial(t, "bob", client.Options{Since: &since})
	testutil.Eventually(t, 5*time.Second, "a failed history read", func() bool {
		h.be.mu.Lock()
		defer h.be.mu.Unlock()
		return h.be.historyCalls >= 2
	})
	h.be.fail("history", nil)
	expectSeqs(t, bob, 1, 4)
}

// CatchUp makes a connection read from history what was stored but never
// pushed to it (its key's home changed before it knew of this node).
func TestCatchUpFillsUnpushed(t *testing.T) {
	h := newHarness(t, nil)
	h.be.manualDelivery = true
	since := uint64(0)
	bob := h.dial(t, "bob", client.Options{Since: &since})
	h.be.storeN("bob", 3) // stored, never pushed
	h.srv.CatchUp("nobody", 3)
	h.srv.CatchUp("bob", 3)
	expectSeqs(t, bob, 1, 3)
}
