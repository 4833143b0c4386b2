package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// closedLoop keeps cfg.InFlight sends (or publications) outstanding: each
// of InFlight workers starts one, waits for its answer and starts the
// next, until the run's end or ctx. Throughput is then what the cluster
// sustains at that concurrency, and latency is timed from each start,
// since nothing waits in a schedule.
func (r *runner) closedLoop(ctx, sendCtx context.Context, sends *sync.WaitGroup) (window, bool) {
	start := time.Now()
	warmEnd := start.Add(r.cfg.Warmup)
	end := warmEnd.Add(r.cfg.Duration)
	r.prog.begin(start, warmEnd)
	var next atomic.Uint64
	for range r.cfg.InFlight {
		sends.Go(func() {
			for ctx.Err() == nil {
				due := time.Now()
				if !due.Before(end) {
					return
				}
				warm := due.Before(warmEnd)
				r.c.sent.Add(1)
				if warm {
					r.c.sentWarm.Add(1)
				}
				r.op(sendCtx, next.Add(1)-1, due, warm)
			}
		})
	}
	timer := time.NewTimer(time.Until(end))
	defer timer.Stop()
	select {
	case <-timer.C:
		return window{warmEnd, end}, false
	case <-ctx.Done():
		return window{warmEnd, time.Now()}, true
	}
}
