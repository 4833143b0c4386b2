package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shardgate/shardgate"
)

// MinorityFigures is how a node cut off from the majority answered writes
// sent to it while the cut held: a minority must refuse (1003), and it
// should say so promptly rather than after its whole write budget.
type MinorityFigures struct {
	Node     string `json:"node"`
	Writes   int    `json:"writes"`
	Acked    int    `json:"acked"` // before it noticed it was cut off
	Refused  int    `json:"refused_1003"`
	Other    int    `json:"other_errors"`
	Timeouts int    `json:"no_answer"`
	// RefusingFromMS is when (from the injection) its answers became
	// refusals and stayed so; nil if they never did.
	RefusingFromMS *int64 `json:"refusing_from_ms"`
	// Answer times of the refusals after that point.
	AnswerP50MS float64 `json:"refusal_answer_p50_ms"`
	AnswerMaxMS float64 `json:"refusal_answer_max_ms"`
}

func (m *MinorityFigures) String() string {
	return fmt.Sprintf("writes through %s while cut off: %d (acked %d, 1003 %d, other %d, no answer %d); refusing from %s after the cut, answered in p50 %.0f ms, max %.0f ms",
		m.Node, m.Writes, m.Acked, m.Refused, m.Other, m.Timeouts, fmtMS(m.RefusingFromMS), m.AnswerP50MS, m.AnswerMaxMS)
}

// minorityProbe returns a `during` function that writes through node
// every 250 ms while the fault holds, each write bounded by 5 s.
func (s *Suite) minorityProbe(node string) func(ctx context.Context, rec *FaultRecord, until time.Time) {
	return func(ctx context.Context, rec *FaultRecord, until time.Time) {
		m := &MinorityFigures{Node: node}
		type answer struct {
			at      time.Time
			took    time.Duration
			refused bool
		}
		var answers []answer
		for i := 0; time.Now().Before(until) && ctx.Err() == nil; i++ {
			key := s.wl.users[i%len(s.wl.users)]
			at := time.Now()
			took, err := s.probeOnce(ctx, node, key, fmt.Sprintf("minority-%d", probeSeq.Add(1)), 5*time.Second)
			m.Writes++
			var ae *apiError
			refused := false
			switch {
			case err == nil:
				m.Acked++
			case errors.As(err, &ae) && ae.RPC() == shardgate.CodeUnavailable:
				m.Refused++
				refused = true
			case errors.As(err, &ae):
				m.Other++
			default:
				m.Timeouts++
			}
			answers = append(answers, answer{at: at, took: took, refused: refused})
			sleepCtx(ctx, time.Until(at.Add(250*time.Millisecond)))
		}
		// The refusing stretch is the longest suffix of refusals.
		from := len(answers)
		for from > 0 && answers[from-1].refused {
			from--
		}
		if from < len(answers) {
			m.RefusingFromMS = since(rec.InjectedAt, answers[from].at)
			var took []time.Duration
			for _, a := range answers[from:] {
				took = append(took, a.took)
			}
			slices.Sort(took)
			m.AnswerP50MS, m.AnswerMaxMS = pctMS(took, 0.5), pctMS(took, 1)
		}
		rec.Minority = m
		s.log.Info("fault: minority answers", "kind", rec.Kind, "figures", m.String())
	}
}
