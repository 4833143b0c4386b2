package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shardgate/shardgate"
)

// finish stops the load, reads every inbox through the admin API, lets the
// receivers catch up, and judges the run.
func (s *Suite) finish(ctx context.Context, sc *Scorecard) {
	s.log.Info("finishing: stopping senders", "progress", s.wl.Progress())
	if err := s.wl.StopSending(s.opts.budget + 10*time.Second); err != nil {
		s.failf("%v", err)
	}
	inboxes := s.readInboxes(ctx)
	s.log.Info("inboxes read", "keys", len(inboxes))
	last := map[string]uint64{}
	for k, msgs := range inboxes {
		if n := len(msgs); n > 0 {
			last[k] = msgs[n-1].Seq
		}
	}
	// Every stored message must reach its (still connected) user. A run
	// cut short has lost its receivers already: no point waiting.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil && !s.wl.receiversGone() && s.missed(last) > 0 {
		sleepCtx(ctx, 250*time.Millisecond)
	}
	s.wl.StopReceiving()
	rep := s.rec.Check(inboxes)
	sc.Safety = Safety{Report: rep, MissedDeliveries: s.missed(last), Live: s.rec.LiveCheck()}
	for _, r := range s.wl.recvs {
		sc.Safety.DoubledDeliveries += r.doubles()
	}
	if !sc.Safety.OK() {
		sc.Findings = s.explain(ctx, inboxes, last)
	}
	s.judge(sc)
}

// missed counts stored messages that their user has not received.
func (s *Suite) missed(last map[string]uint64) int {
	n := 0
	for _, r := range s.wl.recvs {
		n += len(r.missing(last[r.key]))
	}
	return n
}

// readInboxes reads each user's whole inbox from whichever member answers,
// retrying for up to a minute per key: an inbox that cannot be read at all
// is a failure, never an empty inbox.
func (s *Suite) readInboxes(ctx context.Context) map[string][]shardgate.Message {
	out := map[string][]shardgate.Message{}
	members := s.Members()
	for i, key := range s.wl.users {
		deadline := time.Now().Add(time.Minute)
		var last error
		for attempt := 0; time.Now().Before(deadline) && ctx.Err() == nil; attempt++ {
			m := members[(i+attempt)%len(members)]
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			msgs, err := s.admin.Inbox(rctx, s.tier.AdminURL(m), key)
			cancel()
			if err == nil {
				out[key] = msgs
				last = nil
				break
			}
			last = err
			sleepCtx(ctx, 500*time.Millisecond)
		}
		if last != nil || ctx.Err() != nil {
			s.failf("inbox of %s unreadable: %v", key, last)
		}
	}
	return out
}

// judge fills the verdict: the safety figures, the planned faults, the
// node exits nobody asked for, and anything else that went wrong.
func (s *Suite) judge(sc *Scorecard) {
	s.mu.Lock()
	faults := slices.Clone(s.faults)
	sc.Failures = append(sc.Failures, s.errs...)
	s.mu.Unlock()
	fired := map[string]int{}
	for _, f := range faults {
		r := row(f, s.tl)
		sc.Faults = append(sc.Faults, r)
		if f.Fired {
			fired[f.Kind]++
		}
		for _, e := range f.Errors {
			sc.Failures = append(sc.Failures, fmt.Sprintf("%s on %s: %s", f.Kind, f.Target, e))
		}
	}
	want := map[string]int{}
	for _, k := range plans[sc.Plan] {
		want[k]++
	}
	for _, k := range plans[sc.Plan] {
		if fired[k] < want[k] && !slices.Contains(sc.NotFired, k) {
			sc.NotFired = append(sc.NotFired, k)
		}
	}
	for _, e := range s.tier.Exited() {
		sc.Failures = append(sc.Failures, e)
	}
	if sc.Safety.Acked == 0 {
		sc.Failures = append(sc.Failures, "no write was acknowledged: the run proves nothing")
	}
	if sc.Safety.Live.Watched == 0 || sc.Safety.Live.Acked == 0 {
		sc.Failures = append(sc.Failures, "no open connection was held to live delivery: the live figures prove nothing")
	}
	if !sc.Safety.OK() {
		sc.Failures = append(sc.Failures, "safety figures are not all zero")
	}
	sc.Pass = len(sc.Failures) == 0 && len(sc.NotFired) == 0
}
