package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shardgate/shardgate/test/checker"
)

// Scorecard is the verdict of a run, printed as a table and written as
// JSON. Pass is true only when every safety figure is zero, every planned
// fault fired and healed, and no node died unasked.
type Scorecard struct {
	Tier      string       `json:"tier"`
	Plan      string       `json:"plan"`
	Broken    bool         `json:"broken_build"`
	Started   time.Time    `json:"started"`
	DurationS float64      `json:"duration_s"`
	Safety    Safety       `json:"safety"`
	Findings  []KeyFinding `json:"findings,omitempty"`
	Faults    []FaultRow   `json:"faults"`
	NotFired  []string     `json:"faults_not_fired"`
	Failures  []string     `json:"failures"`
	Pass      bool         `json:"pass"`
	RunDir    string       `json:"run_dir"`
}

// Safety is the checker's report plus what only live receivers can see.
type Safety struct {
	checker.Report
	DoubledDeliveries int `json:"doubled_deliveries"` // a seq delivered twice to one key
	MissedDeliveries  int `json:"missed_deliveries"`  // a stored seq never delivered
	// Live is the checker's Live check of the receivers' connections:
	// every seq acknowledged to a user must reach it, once, in order.
	Live checker.LiveReport `json:"live"`
}

// OK is true when every safety figure is zero.
func (s Safety) OK() bool {
	return s.Report.OK() && s.DoubledDeliveries == 0 && s.MissedDeliveries == 0 && s.Live.OK()
}

// FaultRow is one fault with its timings in milliseconds; a nil timing
// was never observed (a one-way cut may never get its target declared
// dead, for instance).
type FaultRow struct {
	Kind         string    `json:"kind"`
	Target       string    `json:"target"`
	Detail       string    `json:"detail"`
	Fired        bool      `json:"fired"`
	InjectedAt   time.Time `json:"injected_at,omitzero"`
	DetectedAt   time.Time `json:"detected_at,omitzero"`
	FailedOverAt time.Time `json:"failed_over_at,omitzero"`
	ResumedAt    time.Time `json:"writes_again_at,omitzero"`
	HealedAt     time.Time `json:"healed_at,omitzero"`
	ConvergedAt  time.Time `json:"converged_at,omitzero"`
	DetectMS     *int64    `json:"detect_ms"`
	FailoverMS   *int64    `json:"failover_ms"`
	ReconvergeMS *int64    `json:"reconverge_ms"`       // from the heal (restart, resume, heal)
	SettledMS    *int64    `json:"inject_to_steady_ms"` // from the injection
	// WritesAgainMS is the time from the injection until writes to every
	// key were acknowledged again while the fault held (faults that probe
	// for it only).
	WritesAgainMS *int64           `json:"writes_again_ms,omitempty"`
	Overload      *OverloadFigures `json:"overload,omitempty"`
	Minority      *MinorityFigures `json:"minority,omitempty"`
	DiskFull      *DiskFullFigures `json:"disk_full,omitempty"`
	NoAckMS       int64            `json:"longest_no_ack_ms"`
	MaxWaitMS     int64            `json:"longest_write_wait_ms"`
	Errors        []string         `json:"errors,omitempty"`
}

func since(from, to time.Time) *int64 {
	if from.IsZero() || to.IsZero() {
		return nil
	}
	ms := to.Sub(from).Milliseconds()
	return &ms
}

// row derives a fault's figures. Its window runs from injection to
// convergence (or to the end of the fault when it never converged).
func row(r *FaultRecord, tl *Timeline) FaultRow {
	end := r.ConvergedAt
	if end.IsZero() {
		end = r.EndedAt
	}
	fr := FaultRow{Kind: r.Kind, Target: r.Target, Detail: r.Detail, Fired: r.Fired,
		InjectedAt: r.InjectedAt, DetectedAt: r.DetectedAt, FailedOverAt: r.FailedOverAt, ResumedAt: r.ResumedAt,
		WritesAgainMS: since(r.InjectedAt, r.ResumedAt), Overload: r.Overload, Minority: r.Minority, DiskFull: r.DiskFull,
		HealedAt: r.HealedAt, ConvergedAt: r.ConvergedAt,
		DetectMS: since(r.InjectedAt, r.DetectedAt), FailoverMS: since(r.InjectedAt, r.FailedOverAt),
		ReconvergeMS: since(r.HealedAt, r.ConvergedAt), SettledMS: since(r.InjectedAt, r.ConvergedAt), Errors: r.Errors}
	if !r.InjectedAt.IsZero() && !end.IsZero() {
		fr.NoAckMS = tl.LongestNoAck(r.InjectedAt, end).Milliseconds()
		fr.MaxWaitMS = tl.LongestWait(r.InjectedAt, end).Milliseconds()
	}
	return fr
}

func fmtMS(ms *int64) string {
	if ms == nil {
		return "-"
	}
	return fmt.Sprintf("%.2fs", float64(*ms)/1000)
}

// Print writes the scorecard as aligned tables.
func (sc *Scorecard) Print(w io.Writer) {
	fmt.Fprintf(w, "\n=== shardgate chaos scorecard: tier %s, plan %s%s, %.0fs ===\n\n", sc.Tier, sc.Plan,
		map[bool]string{true: " (BROKEN BUILD)", false: ""}[sc.Broken], sc.DurationS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "fault\ttarget\tfired\tdetect\tfailover\twrites again\tre-converge\tinject→steady\tlongest no-ack\tlongest write wait\tstatus")
	for _, f := range sc.Faults {
		status := "ok"
		if !f.Fired || len(f.Errors) > 0 {
			status = "FAIL"
		}
		noAck, wait := f.NoAckMS, f.MaxWaitMS
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Kind, f.Target,
			map[bool]string{true: "yes", false: "NO"}[f.Fired], fmtMS(f.DetectMS), fmtMS(f.FailoverMS), fmtMS(f.WritesAgainMS),
			fmtMS(f.ReconvergeMS), fmtMS(f.SettledMS), fmtMS(&noAck), fmtMS(&wait), status)
	}
	tw.Flush()
	fmt.Fprintln(w, "  (detect, failover, writes again and inject→steady from the injection; re-converge from the heal: restart, resume, reconnect;")
	fmt.Fprintln(w, "   writes again: every key's probe write acknowledged while the fault held, - where not probed)")
	for _, f := range sc.Faults {
		if f.Detail != "" {
			fmt.Fprintf(w, "  %s: %s\n", f.Kind, f.Detail)
		}
		if f.Minority != nil {
			fmt.Fprintf(w, "  %s: %s\n", f.Kind, f.Minority)
		}
		var checks []OverloadCheck
		if f.Overload != nil {
			checks = f.Overload.Checks
		}
		if f.DiskFull != nil {
			fmt.Fprintf(w, "  %s: %s\n", f.Kind, f.DiskFull)
			checks = f.DiskFull.Checks
		}
		judged := map[string]bool{}
		for _, c := range checks {
			fmt.Fprintf(w, "  %s: %s  %s\n", f.Kind, c.What, c.mark())
			judged[c.What] = true
		}
		for _, e := range f.Errors {
			if !judged[e] {
				fmt.Fprintf(w, "  %s: ERROR %s\n", f.Kind, e)
			}
		}
	}
	printFindings(w, sc.Findings)
	fmt.Fprintf(w, "\nsafety (every figure marked ok/FAIL must be 0):\n%s", sc.Safety.Report.Table())
	safetyRows(w, []figure{{"doubled deliveries", sc.Safety.DoubledDeliveries}, {"missed deliveries", sc.Safety.MissedDeliveries}})
	l := sc.Safety.Live
	fmt.Fprintf(w, "\nlive delivery to open connections (checker Live check: %d connections, %d acks to them):\n", l.Watched, l.Acked)
	safetyRows(w, []figure{{"live missing", l.Missing}, {"live doubled", l.Doubled}, {"live out of order", l.OutOfOrder}})
	fmt.Fprintf(w, "  %-24s %10d  (figure: later than %s after the ack; faults make some)\n", "live late", l.Late, checker.LiveBound)
	fmt.Fprintf(w, "  %-24s %10s\n", "live max delay", l.MaxDelay.Round(time.Millisecond))
	for _, d := range l.Details {
		fmt.Fprintf(w, "    - %s\n", d)
	}
	if len(sc.NotFired) > 0 {
		fmt.Fprintf(w, "\nplanned faults that did not fire: %s\n", strings.Join(sc.NotFired, ", "))
	}
	for _, f := range sc.Failures {
		fmt.Fprintf(w, "FAILURE: %s\n", f)
	}
	verdict := "PASS"
	if !sc.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "\n%s (logs and data: %s)\n", verdict, sc.RunDir)
}

type figure struct {
	name string
	v    int
}

// safetyRows prints figures that must be 0, each marked ok or FAIL.
func safetyRows(w io.Writer, fs []figure) {
	for _, x := range fs {
		mark := "ok"
		if x.v != 0 {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %-24s %10d  %s\n", x.name, x.v, mark)
	}
}

// WriteJSON writes the scorecard to path.
func (sc *Scorecard) WriteJSON(path string) error {
	b, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
