package node_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/node/nodetest"
	"github.com/shardgate/shardgate/test/checker"
)

// load keeps a stream of sends going through the engines, each retried
// with its idempotency id until it gets a definite answer, while one
// connection per key stays open; the checker gets the whole history.
type load struct {
	t     *testing.T
	c     *nodetest.Cluster
	rec   *checker.Recorder
	keys  []string
	via   []string // nodes the sends go through, the first running one first
	stop  chan struct{}
	wg    sync.WaitGroup
	acked atomic.Int64
	gate  gate // checkLive pauses sending through it

	connMu sync.Mutex
	conns  map[string]*nodetest.Conn // key → its open connection
	connOn map[string]string         // key → the node holding it
}

// gate lets sends through until paused; pause waits for those in flight.
// It waits on a sync.Cond, which a synctest bubble counts as durably
// blocked (a goroutine waiting for a mutex would stop the bubble's clock).
type gate struct {
	mu       sync.Mutex
	cond     *sync.Cond
	paused   bool
	inFlight int
}

func (g *gate) init() { g.cond = sync.NewCond(&g.mu) }

func (g *gate) enter() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.paused {
		g.cond.Wait()
	}
	g.inFlight++
}

func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inFlight--
	g.cond.Broadcast()
}

func (g *gate) pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.paused = true
	for g.inFlight > 0 {
		g.cond.Wait()
	}
}

func (g *gate) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.paused = false
	g.cond.Broadcast()
}

// startLoad opens one connection per key (nKeys keys) spread over the
// nodes in conns, and starts nSenders senders going through the nodes in
// via. It stops when the test ends, before the cluster does.
func startLoad(t *testing.T, c *nodetest.Cluster, conns, via []string, nSenders, nKeys int) *load {
	t.Helper()
	l := &load{t: t, c: c, rec: checker.NewRecorder(), via: via, stop: make(chan struct{}),
		conns: map[string]*nodetest.Conn{}, connOn: map[string]string{}}
	l.gate.init()
	for i := range nKeys {
		k := fmt.Sprintf("user-%d", i)
		l.keys = append(l.keys, k)
		l.rec.Watch(k)
		on := conns[i%len(conns)]
		l.conns[k], l.connOn[k] = connect(t, c.Node(on), k, l.onMsg(k)), on
	}
	for i := range nSenders {
		l.wg.Go(func() { l.send(i) })
	}
	t.Cleanup(l.halt)
	return l
}

func (l *load) onMsg(key string) func(shardgate.Message) {
	return func(m shardgate.Message) { l.rec.Delivered(key, m.Seq) }
}

// reconnect opens the connections held by node from on node to, each
// resuming after the last seq it took, as a client does whose node went
// away. A connect refused as unavailable (the key's home is changing) is
// tried again, as a client would.
func (l *load) reconnect(from, to string) {
	l.t.Helper()
	l.connMu.Lock()
	defer l.connMu.Unlock()
	for _, k := range l.keys {
		if l.connOn[k] != from {
			continue
		}
		since := l.conns[k].Delivered()
		var err error
		for range 100 {
			var nc *nodetest.Conn
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			nc, err = l.c.Node(to).Deliverer.Connect(ctx, k, since, l.onMsg(k))
			cancel()
			if err == nil {
				l.conns[k], l.connOn[k] = nc, to
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			l.t.Fatalf("reconnect %s on %s after seq %d: %v", k, to, since, err)
		}
	}
}

func (l *load) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

func (l *load) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *load) send(i int) {
	from := fmt.Sprintf("sender-%d", i)
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	for n := 0; !l.stopped(); n++ {
		to := l.keys[rng.IntN(len(l.keys))]
		l.gate.enter()
		l.sendOne(from, to, fmt.Sprintf("%s-%d", from, n), n+i)
		l.gate.leave()
		time.Sleep(5 * time.Millisecond)
	}
}

// sendOne retries one logical send until it is acknowledged or refused
// for good; a retryable error counts as unknown, never as failed.
func (l *load) sendOne(from, to, id string, turn int) {
	for attempt := 0; attempt < 200 && !l.stopped(); attempt++ {
		on := l.through(turn + attempt)
		if on == nil {
			return
		}
		res, err := trySend(on, from, to, map[string]string{"id": id}, id)
		if err == nil {
			l.rec.Attempt(to, from, id, checker.Acked, res.Seq)
			l.acked.Add(1)
			return
		}
		if k := shardgate.KindOf(err); k != shardgate.KindUnavailable && k != shardgate.KindRateLimited {
			l.rec.Attempt(to, from, id, checker.Failed, 0)
			l.t.Errorf("send %s refused: %v", id, err)
			return
		}
		l.rec.Attempt(to, from, id, checker.Unknown, 0)
		time.Sleep(50 * time.Millisecond)
	}
}

// through picks a running node of via, turning through them.
func (l *load) through(turn int) *nodetest.Node {
	for i := range l.via {
		if nd := l.c.Node(l.via[(turn+i)%len(l.via)]); nd != nil {
			return nd
		}
	}
	return nil
}

// waitAcked waits until n more sends have been acknowledged.
func (l *load) waitAcked(n int64, within time.Duration) {
	l.t.Helper()
	testutil.EventuallyGrows(l.t, within, &l.acked, n, "acknowledged sends")
}

// checkLive pauses sending and checks that every open connection took
// every message acknowledged to its key, once and in order, with no
// further traffic to set off its gap filling.
func (l *load) checkLive(phase string) checker.LiveReport {
	l.t.Helper()
	l.gate.pause()
	defer l.gate.resume()
	return l.rec.ExpectLive(l.t, phase, 10*time.Second)
}

// finish stops sending, reads every inbox and checks the guarantees.
func (l *load) finish() checker.Report {
	l.t.Helper()
	l.checkLive("the run")
	l.halt()
	inboxes := map[string][]shardgate.Message{}
	for _, k := range l.keys {
		inboxes[k] = inbox(l.t, l.c, k)
	}
	rep := l.rec.Check(inboxes)
	l.t.Logf("history:\n%s", rep.Table())
	if !rep.OK() {
		l.t.Errorf("guarantees violated:\n%s", rep.Table())
	}
	if rep.Acked == 0 {
		l.t.Error("no send was acknowledged")
	}
	return rep
}

// inbox reads key's whole inbox through the first running node.
func inbox(t testing.TB, c *nodetest.Cluster, key string) []shardgate.Message {
	t.Helper()
	var out []shardgate.Message
	since := uint64(0)
	for range 10_000 {
		var res shardgate.HistoryResult
		var err error
		for range 50 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err = c.Live()[0].Engine.History(ctx, key, since, 1000)
			cancel()
			if err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("read inbox of %s: %v", key, err)
		}
		out = append(out, res.Messages...)
		if len(res.Messages) == 0 || res.Messages[len(res.Messages)-1].Seq >= res.LastSeq {
			break
		}
		since = res.Messages[len(res.Messages)-1].Seq
	}
	return out
}
