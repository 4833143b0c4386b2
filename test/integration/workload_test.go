package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/client"
	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/test/checker"
)

// workload keeps a steady stream of sends between users connected to
// every node, retrying each send with its idempotency id until it gets a
// definite answer, and records everything for the checker.
type workload struct {
	t         testing.TB
	c         *tcluster
	rec       *checker.Recorder
	senders   []*client.Conn
	receivers map[string]*client.Conn
	keys      []string
	stop      chan struct{}
	wg        sync.WaitGroup
	acked     atomic.Int64
	longest   atomic.Int64 // longest gap between acks, ns
	// lastAck is the time of the last ack in ns since began, read on the
	// monotonic clock: a step of the wall clock is no gap between acks.
	lastAck atomic.Int64
	began   time.Time
	// gate is held for reading by every send in flight; checkLive takes it
	// to pause sending while it checks the open connections.
	gate sync.RWMutex
}

// startWorkload connects nSenders senders and one receiver per key, spread
// over the given nodes, and starts sending.
func startWorkload(t testing.TB, c *tcluster, nodes []string, nSenders, nKeys int) *workload {
	w := &workload{t: t, c: c, rec: checker.NewRecorder(), receivers: map[string]*client.Conn{}, stop: make(chan struct{})}
	for i := 0; i < nKeys; i++ {
		k := fmt.Sprintf("user-%d", i)
		w.keys = append(w.keys, k)
		zero := uint64(0)
		w.receivers[k] = c.dial(nodes[i%len(nodes)], k, &zero)
		w.rec.Watch(k)
	}
	for i := 0; i < nSenders; i++ {
		w.senders = append(w.senders, c.dial(nodes[(i+1)%len(nodes)], fmt.Sprintf("sender-%d", i), nil))
	}
	w.began = time.Now()
	for k, cl := range w.receivers {
		w.wg.Add(1)
		go w.receive(k, cl)
	}
	for i, cl := range w.senders {
		w.wg.Add(1)
		go w.send(i, cl)
	}
	return w
}

func (w *workload) receive(key string, cl *client.Conn) {
	defer w.wg.Done()
	for {
		select {
		case m := <-cl.Messages():
			w.rec.Delivered(key, m.Seq)
		case <-w.stop:
			return
		case <-cl.Done():
			return
		}
	}
}

func (w *workload) send(i int, cl *client.Conn) {
	defer w.wg.Done()
	from := fmt.Sprintf("sender-%d", i)
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	for n := 0; ; n++ {
		select {
		case <-w.stop:
			return
		default:
		}
		to := w.keys[rng.IntN(len(w.keys))]
		id := fmt.Sprintf("%s-%d", from, n)
		w.gate.RLock()
		w.sendOne(cl, from, to, id, n)
		w.gate.RUnlock()
		time.Sleep(5 * time.Millisecond) // stay well under the per-connection rate limit
	}
}

// sendOne retries one logical send until it is acknowledged or definitely
// refused; a timeout counts as unknown, never as failed.
func (w *workload) sendOne(cl *client.Conn, from, to, id string, n int) {
	for attempt := 0; attempt < 200; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := cl.Send(ctx, to, map[string]any{"n": n}, id)
		cancel()
		if err == nil {
			w.rec.Attempt(to, from, id, checker.Acked, res.Seq)
			w.acked.Add(1)
			now := int64(time.Since(w.began))
			if gap := now - w.lastAck.Swap(now); gap > w.longest.Load() {
				w.longest.Store(gap)
			}
			return
		}
		var rpc *client.RPCError
		if errors.As(err, &rpc) && !rpc.Retryable() && rpc.Code != 1002 {
			w.rec.Attempt(to, from, id, checker.Failed, 0)
			w.t.Errorf("send %s refused: %v", id, err)
			return
		}
		w.rec.Attempt(to, from, id, checker.Unknown, 0)
		select {
		case <-w.stop:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitAcked waits until n more sends have been acknowledged.
func (w *workload) waitAcked(n int64, timeout time.Duration) {
	w.t.Helper()
	testutil.EventuallyGrows(w.t, timeout, &w.acked, n, "acknowledged sends")
}

// checkLive pauses sending and checks that every open receiver got every
// message acknowledged to its key, once and in order, without any further
// traffic to trigger its gap filling. It polls for a while before counting
// a message as missing; late arrivals (after checker.LiveBound) are logged.
func (w *workload) checkLive(phase string) checker.LiveReport {
	w.t.Helper()
	w.gate.Lock()
	defer w.gate.Unlock()
	return w.rec.ExpectLive(w.t, phase, 10*time.Second)
}

// finish stops sending, reads every inbox and checks the guarantees. It
// also checks no connection was closed by the cluster.
func (w *workload) finish() checker.Report {
	w.t.Helper()
	w.checkLive("the run")
	close(w.stop)
	w.wg.Wait()
	for k, cl := range w.receivers {
		select {
		case <-cl.Done():
			w.t.Errorf("receiver %s was disconnected (close code %d)", k, cl.CloseCode())
		default:
		}
	}
	for i, cl := range w.senders {
		select {
		case <-cl.Done():
			w.t.Errorf("sender %d was disconnected (close code %d)", i, cl.CloseCode())
		default:
		}
	}
	inboxes := map[string][]shardgate.Message{}
	for _, k := range w.keys {
		inboxes[k] = w.c.inbox(k)
	}
	rep := w.rec.Check(inboxes)
	w.t.Logf("workload: longest time without an ack %v\n%s", time.Duration(w.longest.Load()), rep.Table())
	if !rep.OK() {
		w.t.Errorf("guarantees violated:\n%s", rep.Table())
	}
	if rep.Acked == 0 {
		w.t.Error("no send was acknowledged")
	}
	return rep
}
