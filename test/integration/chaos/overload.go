package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/client"
	"github.com/shardgate/shardgate/test/checker"
)

// The overload phase measures what the cluster acknowledges with a fixed
// number of sends in flight (closed loop: the sustainable rate), then
// offers 1×, 2× and 3× that rate open loop, whatever the answers, as a
// crowd of clients would. A cluster that pushes back answers the excess
// with 1002 at once and keeps the latency of what it accepts bounded; one
// that does not queues everything, and the ack latency grows until writes
// time out (1003) after their 2 s budget. Every send is recorded, so the
// final check holds the acknowledged ones to "nothing lost".

// Overload bounds. The p99 bound (2 s) is above the default write budget
// (900 ms, after which a node answers 1003), so a node started with a
// longer --write-timeout is held to it too: a cluster that pushes back
// refuses the excess with
// 1002 at once, so what it accepts waits behind at most its in-flight
// bound (128 sends per node at a few hundred acks/s per node: about half
// a second on average) and completes within the time it gives itself to
// store a write. A cluster that queues everything instead lets the wait
// grow until writes time out (measured before the bounds: p99 at the 5 s
// client timeout and the ack rate collapsing to 4/s at 3×).
const (
	overloadP99Bound   = 2 * time.Second
	overloadConns      = 48              // sending connections, spread over the members
	overloadClosedLoop = 4               // sends in flight per connection when measuring the rate
	overloadStep       = 5 * time.Second // length of each step
	overloadAttempt    = 5 * time.Second // bound on one send
	overloadMaxPending = 20000           // the load generator's own bound on sends awaiting answers
)

// OverloadFigures is the overload phase's scorecard entry.
type OverloadFigures struct {
	SustainableRate float64         `json:"sustainable_acks_per_s"`
	ClosedInFlight  int             `json:"closed_loop_in_flight"`
	Steps           []OverloadStep  `json:"steps"`
	P99BoundMS      int64           `json:"p99_bound_ms"`
	Checks          []OverloadCheck `json:"checks"`
}

// OverloadStep is one offered rate.
type OverloadStep struct {
	Factor      float64 `json:"factor"`
	OfferedRate float64 `json:"offered_per_s"`
	Sent        int     `json:"sent"`
	Acked       int     `json:"acked"`
	AckedRate   float64 `json:"acked_per_s"`
	Refused1002 int     `json:"refused_1002"`
	Refused1003 int     `json:"refused_1003"`
	OtherErrors int     `json:"other_errors"`
	Unknown     int     `json:"unknown"`  // timeouts and broken connections
	NotSent     int     `json:"not_sent"` // the generator's own bound was full
	P50MS       float64 `json:"ack_p50_ms"`
	P99MS       float64 `json:"ack_p99_ms"`
	MaxMS       float64 `json:"ack_max_ms"`
	Example1002 string  `json:"example_1002,omitempty"`
}

// OverloadCheck is one threshold and whether it held. Judged is false for
// a threshold that needs the nodes to push back when the run does not
// require it (-require-pushback): it is reported, and a miss does not fail
// the run.
type OverloadCheck struct {
	What   string `json:"what"`
	OK     bool   `json:"ok"`
	Judged bool   `json:"judged"`
}

func (c OverloadCheck) mark() string {
	switch {
	case c.OK:
		return "ok"
	case c.Judged:
		return "FAIL"
	default:
		return "MISSED (not judged without -require-pushback)"
	}
}

// judge records a threshold; a miss fails rec when it is judged.
func (s *Suite) judgeCheck(rec *FaultRecord, checks *[]OverloadCheck, pushback, ok bool, format string, args ...any) {
	c := OverloadCheck{What: fmt.Sprintf(format, args...), OK: ok, Judged: !pushback || s.opts.pushback}
	*checks = append(*checks, c)
	if !c.OK && c.Judged {
		rec.fail("%s", c.What)
	}
}

// overloadGen is the load generator: its own connections, its own keys.
type overloadGen struct {
	s     *Suite
	conns []*client.Conn
	next  atomic.Int64
	seq   atomic.Int64
}

func (s *Suite) newOverloadGen(ctx context.Context) (*overloadGen, error) {
	g := &overloadGen{s: s}
	members := s.Members()
	for i := 0; i < overloadConns; i++ {
		key := fmt.Sprintf("ov%02d", i)
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := client.Dial(dctx, s.tier.WSURL(members[i%len(members)]), client.Options{Token: s.wl.token(key)})
		cancel()
		if err != nil {
			g.close()
			return nil, fmt.Errorf("overload connection %d: %w", i, err)
		}
		g.conns = append(g.conns, c)
	}
	return g, nil
}

func (g *overloadGen) close() {
	for _, c := range g.conns {
		c.Close()
	}
}

// outcome of one send of the generator.
type outcome struct {
	took time.Duration
	code int // 0 acked, JSON-RPC code, -1 unknown
	msg  string
}

// send sends one message on the next connection (round robin) and records
// it for the checker.
func (g *overloadGen) send(ctx context.Context) outcome {
	c := g.conns[int(g.next.Add(1))%len(g.conns)]
	from := c.Welcome().Key
	n := g.seq.Add(1)
	to := g.s.wl.users[int(n)%len(g.s.wl.users)]
	id := fmt.Sprintf("ov-%d", n)
	actx, cancel := context.WithTimeout(ctx, overloadAttempt)
	defer cancel()
	t0 := time.Now()
	res, err := c.Send(actx, to, map[string]any{"ov": id}, id)
	o := outcome{took: time.Since(t0)}
	var rpc *client.RPCError
	switch {
	case err == nil:
		g.s.rec.Attempt(to, from, id, checker.Acked, res.Seq)
		g.s.wl.noteAck(sendID{to, from, id}, ackInfo{seq: res.Seq, at: time.Now(), via: c.Welcome().Node})
	case errors.As(err, &rpc):
		g.s.rec.Attempt(to, from, id, checker.Failed, 0)
		o.code, o.msg = rpc.Code, rpc.Message
	default:
		g.s.rec.Attempt(to, from, id, checker.Unknown, 0)
		o.code, o.msg = -1, err.Error()
	}
	return o
}

// closedLoop keeps inFlight sends going for d and returns the ack rate.
func (g *overloadGen) closedLoop(ctx context.Context, inFlight int, d time.Duration) float64 {
	var acked atomic.Int64
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < inFlight; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) && ctx.Err() == nil {
				if g.send(ctx).code == 0 {
					acked.Add(1)
				} else {
					sleepCtx(ctx, 20*time.Millisecond)
				}
			}
		}()
	}
	start := time.Now()
	wg.Wait()
	return float64(acked.Load()) / time.Since(start).Seconds()
}

// openLoop offers rate sends per second for d, each in its own goroutine,
// and waits for every answer.
func (g *overloadGen) openLoop(ctx context.Context, factor, rate float64, d time.Duration) OverloadStep {
	st := OverloadStep{Factor: factor, OfferedRate: rate}
	var (
		mu      sync.Mutex
		lat     []time.Duration
		wg      sync.WaitGroup
		pending atomic.Int64
	)
	start := time.Now()
	// Sends are issued in small bursts on a 10 ms tick: a timer per send
	// at thousands per second would cost the nodes' CPU.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	due := 0
	for now := time.Now(); now.Sub(start) < d && ctx.Err() == nil; now = <-tick.C {
		for want := int(now.Sub(start).Seconds() * rate); due < want; due++ {
			if pending.Load() >= overloadMaxPending {
				st.NotSent++
				continue
			}
			st.Sent++
			pending.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer pending.Add(-1)
				o := g.send(ctx)
				mu.Lock()
				defer mu.Unlock()
				switch o.code {
				case 0:
					st.Acked++
					lat = append(lat, o.took)
				case shardgate.CodeRateLimited:
					st.Refused1002++
					if st.Example1002 == "" {
						st.Example1002 = o.msg
					}
				case shardgate.CodeUnavailable:
					st.Refused1003++
				case -1:
					st.Unknown++
				default:
					st.OtherErrors++
				}
			}()
		}
	}
	wg.Wait()
	st.AckedRate = float64(st.Acked) / d.Seconds()
	slices.Sort(lat)
	st.P50MS, st.P99MS, st.MaxMS = pctMS(lat, 0.50), pctMS(lat, 0.99), pctMS(lat, 1)
	return st
}

func pctMS(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(len(sorted)-1, int(q*float64(len(sorted))))
	return float64(sorted[i].Microseconds()) / 1000
}

// overload runs the phase and records it as a fault row.
func (s *Suite) overload(ctx context.Context) {
	rec := s.record(faultOverload, "all", "")
	defer func() { rec.EndedAt = time.Now() }()
	rec.InjectedAt = time.Now()
	g, err := s.newOverloadGen(ctx)
	if err != nil {
		rec.fail("%v", err)
		return
	}
	defer g.close()
	rec.Fired = true
	f := &OverloadFigures{ClosedInFlight: overloadConns * overloadClosedLoop, P99BoundMS: overloadP99Bound.Milliseconds()}
	rec.Overload = f
	f.SustainableRate = g.closedLoop(ctx, f.ClosedInFlight, overloadStep)
	s.log.Info("overload: sustainable rate", "acks_per_s", int(f.SustainableRate), "in_flight", f.ClosedInFlight)
	if f.SustainableRate < 50 {
		rec.fail("the cluster acknowledged only %.0f sends/s with %d in flight: no rate to overload", f.SustainableRate, f.ClosedInFlight)
		return
	}
	for _, factor := range []float64{1, 2, 3} {
		st := g.openLoop(ctx, factor, factor*f.SustainableRate, overloadStep)
		f.Steps = append(f.Steps, st)
		s.log.Info("overload: step", "factor", factor, "offered", int(st.OfferedRate), "acked_per_s", int(st.AckedRate),
			"p99_ms", st.P99MS, "refused_1002", st.Refused1002, "refused_1003", st.Refused1003, "unknown", st.Unknown)
		sleepCtx(ctx, time.Second) // let queues drain between steps
	}
	rec.HealedAt = time.Now()
	top := f.Steps[len(f.Steps)-1]
	s.judgeCheck(rec, &f.Checks, true, top.P99MS <= float64(overloadP99Bound.Milliseconds()),
		"ack p99 at 3× is %.0f ms, bound %s", top.P99MS, overloadP99Bound)
	s.judgeCheck(rec, &f.Checks, false, top.Refused1002 > 0,
		"at 3× %d of %d sends were answered 1002 (want some: the excess refused at once)", top.Refused1002, top.Sent)
	s.judgeCheck(rec, &f.Checks, false, top.Unknown == 0,
		"at 3× %d sends got no answer within %s (want every send answered)", top.Unknown, overloadAttempt)
	rec.Detail = overloadSummary(f)
	s.converge(ctx, rec)
}

// overloadSummary is the one-line detail of the scorecard row.
func overloadSummary(f *OverloadFigures) string {
	var parts []string
	for _, st := range f.Steps {
		parts = append(parts, fmt.Sprintf("%.0f×: offered %.0f/s acked %.0f/s p50 %.0fms p99 %.0fms, 1002 ×%d, 1003 ×%d, no answer ×%d",
			st.Factor, st.OfferedRate, st.AckedRate, st.P50MS, st.P99MS, st.Refused1002, st.Refused1003, st.Unknown))
	}
	return fmt.Sprintf("sustainable %.0f acks/s (%d in flight); %s", f.SustainableRate, f.ClosedInFlight, strings.Join(parts, "; "))
}
