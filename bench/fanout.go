package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardgate/shardgate"
)

// fanout is the state of a topic fan-out run: the first Subscribers
// connections subscribe to the topic, the rest publish to it in turn.
// Publications are live and at most once (docs/PROTOCOL.md), so a publication that
// does not reach a subscriber is counted as missed, not as lost.
type fanout struct {
	r    *runner
	subs []*peer
	pubs []*peer

	// Publications acknowledged and deliveries seen, warm-up apart.
	acked, ackedWarm atomic.Int64
	deliv, delivWarm atomic.Int64
}

func newFanout(r *runner) *fanout {
	n := r.cfg.Subscribers
	return &fanout{r: r, subs: r.peers[:n], pubs: r.peers[n:]}
}

// subscribeAll subscribes every subscriber, many at once, before the run
// starts; a subscriber that cannot subscribe fails the run.
func (f *fanout) subscribeAll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, f.r.cfg.ConnectTimeout)
	defer cancel()
	work := make(chan *peer)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range min(dialParallel, len(f.subs)) {
		wg.Go(func() {
			for p := range work {
				if err := p.client().Subscribe(ctx, f.r.cfg.Topic); err != nil {
					once.Do(func() { first = fmt.Errorf("subscribe %s to %q: %w", p.key, f.r.cfg.Topic, err) })
					cancel()
				}
			}
		})
	}
	for _, p := range f.subs {
		work <- p
	}
	close(work)
	wg.Wait()
	return first
}

// publish makes the n-th publication from a publisher in turn.
func (f *fanout) publish(ctx context.Context, n uint64, due time.Time, warm bool) {
	r := f.r
	r.c.inflight.Add(1)
	defer r.c.inflight.Add(-1)
	from := f.pubs[n%uint64(len(f.pubs))]
	data := makePayload(r.runID+"-"+strconv.FormatUint(n, 10), due, warm, r.cfg.Size)
	actx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	_, err := from.client().Publish(actx, r.cfg.Topic, data)
	cancel()
	if err != nil {
		r.c.errors.Add(1)
		r.c.failed.Add(1)
		r.errs.note(err)
		return
	}
	// Every subscriber should see it: the grace period waits for that.
	r.c.pending.Add(int64(len(f.subs)))
	r.c.acked.Add(1)
	if warm {
		f.ackedWarm.Add(1)
		return
	}
	f.acked.Add(1)
	now := time.Now()
	r.ack.Record(now.Sub(due))
	stamp(&r.c.lastAck, now)
}

// receive counts a subscriber's publications until its connection ends.
// A broken subscriber is not reconnected: its subscription, and the
// publications sent meanwhile, are gone, which the report shows as
// missed deliveries and a disconnect.
func (f *fanout) receive(stop context.Context, p *peer) {
	cl := p.client()
	for pub := range cl.Publications() {
		f.onPublication(pub)
	}
	if stop.Err() == nil {
		code := cl.CloseCode()
		f.r.drops.add(strconv.Itoa(code), fmt.Sprintf("%s closed with code %d", p.key, code))
	}
}

func (f *fanout) onPublication(pub shardgate.Publication) {
	r := f.r
	r.tallying.RLock()
	defer r.tallying.RUnlock()
	d, ok := parsePayload(pub.Data, r.runID)
	if !ok {
		r.c.foreign.Add(1)
		return
	}
	r.c.delivered.Add(1)
	r.c.pending.Add(-1)
	if d.Warm {
		f.delivWarm.Add(1)
		return
	}
	f.deliv.Add(1)
	now := time.Now()
	r.e2e.Record(now.Sub(time.Unix(0, d.Due)))
	stamp(&r.c.lastDelivery, now)
}

// tally fills a fan-out report: acknowledged publications, deliveries,
// and the deliveries that did not happen (acknowledged × subscribers −
// delivered).
func (f *fanout) tally(rep *Report) {
	subs := int64(len(f.subs))
	rep.Subscribers, rep.Publishers = len(f.subs), len(f.pubs)
	rep.Acked, rep.Delivered = f.acked.Load(), f.deliv.Load()
	rep.Missed = max(rep.Acked*subs-rep.Delivered, 0)
	rep.WarmupCounts.Acked = f.ackedWarm.Load()
	rep.WarmupCounts.Missed = max(rep.WarmupCounts.Acked*subs-f.delivWarm.Load(), 0)
}
