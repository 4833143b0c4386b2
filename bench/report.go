package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is the outcome of a run. Counts cover the measured part; the
// warm-up has its own. Times are in milliseconds, rates per second.
type Report struct {
	// Mode is "send" or "fanout"; InFlight is the closed loop's
	// concurrency (0: open loop at TargetRate).
	Mode        string   `json:"mode"`
	InFlight    int      `json:"in_flight"`
	Routed      bool     `json:"routed,omitempty"` // each connection opened on its key's home
	Subscribers int      `json:"subscribers,omitempty"`
	Publishers  int      `json:"publishers,omitempty"`
	Nodes       []string `json:"nodes"`
	Conns       int      `json:"conns"`
	Keys        int      `json:"keys"`
	TargetRate  float64  `json:"target_rate"`
	Duration    string   `json:"duration"`
	Warmup      string   `json:"warmup"`
	Size        int      `json:"size"`
	Interrupted bool     `json:"interrupted"`
	// ElapsedSec is the measured sending window: shorter than Duration
	// when interrupted, longer when the in-flight cap held sends back.
	// Sent/s divides by it; acked/s and delivered/s divide by the time to
	// the last measured ack or delivery (AckSpanSec, DeliverySpanSec), so
	// a cluster that falls behind is not credited with the target rate.
	ElapsedSec      float64 `json:"elapsed_s"`
	AckSpanSec      float64 `json:"ack_span_s"`
	DeliverySpanSec float64 `json:"delivery_span_s"`

	Sent      int64 `json:"sent"`
	Acked     int64 `json:"acked"`
	Delivered int64 `json:"delivered"`
	// Lost: acknowledged, never delivered within the grace period.
	Lost int64 `json:"lost"`
	// Duplicated: messages delivered more than once for the same (to, seq).
	Duplicated int64 `json:"duplicated"`
	// Reordered: first deliveries with a lower seq than one delivered
	// before them on the same key.
	Reordered int64 `json:"reordered"`
	// DeliveredUnacked: delivered, but the send got no answer (it failed
	// after the message was stored). Not a loss.
	DeliveredUnacked int64 `json:"delivered_unacked"`
	// SeqConflicts: two sends acknowledged with the same (to, seq).
	SeqConflicts int64 `json:"seq_conflicts"`
	// Foreign: deliveries that no send of this run made.
	Foreign int64 `json:"foreign"`
	// Missed (fan-out): acknowledged publications × subscribers −
	// deliveries. Publications are at most once, so this is a figure, not
	// a broken guarantee.
	Missed int64 `json:"missed,omitempty"`

	Failed     int64        `json:"failed"`  // sends given up
	Retries    int64        `json:"retries"` // extra attempts, same id
	Errors     int64        `json:"errors"`  // failed attempts, all kinds
	ErrorKinds []ErrorCount `json:"error_kinds"`
	Reconnects int64        `json:"reconnects"`
	// Disconnects are connections that broke during the run, by close
	// code (1001 node stopping, 4009 slow consumer, 1006 no close frame).
	Disconnects []ErrorCount `json:"disconnects"`

	SentPerSec      float64 `json:"sent_per_s"`
	AckedPerSec     float64 `json:"acked_per_s"`
	DeliveredPerSec float64 `json:"delivered_per_s"`

	AckLatency      Latency `json:"ack_latency_ms"`
	DeliveryLatency Latency `json:"delivery_latency_ms"`

	WarmupCounts Phase `json:"warmup_counts"`

	// NodeCPU is each node's process_cpu_seconds_total used during the
	// run (read from its /metrics before and after); NodeCPUSec their
	// sum; CPUPerMessageUs that sum per acknowledged send (send mode) or
	// per delivered publication (fan-out), warm-up included, in µs.
	NodeCPU         []NodeCPU `json:"node_cpu,omitempty"`
	NodeCPUSec      float64   `json:"node_cpu_s,omitempty"`
	CPUPerMessageUs float64   `json:"node_cpu_per_message_us,omitempty"`
}

// NodeCPU is the CPU one node process used during the run.
type NodeCPU struct {
	URL     string  `json:"url"`
	Seconds float64 `json:"cpu_s"`
}

// Latency summarises a histogram in milliseconds.
type Latency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

// Phase holds the counts of the warm-up.
type Phase struct {
	Sent       int64 `json:"sent"`
	Acked      int64 `json:"acked"`
	Lost       int64 `json:"lost"`
	Duplicated int64 `json:"duplicated"`
	Missed     int64 `json:"missed,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func summarise(h *Histogram) Latency {
	return Latency{
		Count: h.Count(),
		P50:   ms(h.Quantile(0.50)), P99: ms(h.Quantile(0.99)), P999: ms(h.Quantile(0.999)),
		Max: ms(h.Max()), Mean: ms(h.Mean()),
	}
}

// report tallies the marks of every recipient once the run is over.
func (r *runner) report(win window, interrupted bool) *Report {
	r.tallying.Lock()
	defer r.tallying.Unlock()
	var m, w tally
	for _, p := range r.recips {
		p.inbox.count(&m, &w)
	}
	cfg := r.cfg
	rep := &Report{
		Mode: cfg.Mode, InFlight: cfg.InFlight,
		Routed: cfg.Route, Nodes: cfg.Nodes, Conns: cfg.Conns, Keys: len(r.recips), TargetRate: cfg.Rate,
		Duration: cfg.Duration.String(), Warmup: cfg.Warmup.String(), Size: cfg.Size,
		Interrupted: interrupted, ElapsedSec: win.seconds(0),
		AckSpanSec: win.seconds(r.c.lastAck.Load()), DeliverySpanSec: win.seconds(r.c.lastDelivery.Load()),
		Sent:  r.c.sent.Load() - r.c.sentWarm.Load(),
		Acked: m.Acked, Delivered: m.Delivered, Lost: m.Lost, Duplicated: m.Duplicated,
		Reordered: r.c.reorders.Load(), DeliveredUnacked: m.DeliveredUnacked,
		SeqConflicts: r.c.conflicts.Load(), Foreign: r.c.foreign.Load(),
		Failed: r.c.failed.Load(), Retries: r.c.retries.Load(), Errors: r.c.errors.Load(),
		ErrorKinds: r.errs.list(), Reconnects: r.c.reconnects.Load(), Disconnects: r.drops.list(),
		AckLatency: summarise(&r.ack), DeliveryLatency: summarise(&r.e2e),
		WarmupCounts: Phase{Sent: r.c.sentWarm.Load(), Acked: w.Acked, Lost: w.Lost, Duplicated: w.Duplicated},
	}
	if r.fan != nil {
		rep.Keys = 0
		r.fan.tally(rep)
	}
	rep.SentPerSec = perSec(rep.Sent, rep.ElapsedSec)
	rep.AckedPerSec = perSec(rep.Acked, rep.AckSpanSec)
	rep.DeliveredPerSec = perSec(rep.Delivered, rep.DeliverySpanSec)
	return rep
}

func perSec(n int64, s float64) float64 {
	if s <= 0 {
		return 0
	}
	return float64(n) / s
}

// Problems lists, one sentence each, what broke the cluster's guarantees
// (docs/PROTOCOL.md, Guarantees) during the run; empty when nothing did.
func (rep *Report) Problems() []string {
	var out []string
	add := func(n int64, what string) {
		if n > 0 {
			out = append(out, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(rep.Lost+rep.WarmupCounts.Lost, "acknowledged messages were never delivered")
	add(rep.Duplicated+rep.WarmupCounts.Duplicated, "messages were delivered more than once")
	add(rep.Reordered, "messages were delivered out of seq order")
	add(rep.SeqConflicts, "seqs were acknowledged to two different sends")
	return out
}

// WriteJSON writes the report as one indented JSON document.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

// WriteTable writes the report for a person to read.
func (rep *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	status := ""
	if rep.Interrupted {
		status = " (interrupted)"
	}
	load := fmt.Sprintf("target %.0f sends/s", rep.TargetRate)
	if rep.InFlight > 0 {
		load = fmt.Sprintf("closed loop, %d in flight", rep.InFlight)
	}
	who := fmt.Sprintf("%d recipients", rep.Keys)
	if rep.Mode == ModeFanout {
		who = fmt.Sprintf("topic fan-out: %d subscribers, %d publishers", rep.Subscribers, rep.Publishers)
	}
	where := ""
	if rep.Routed {
		where = " (each on its key's home)"
	}
	fmt.Fprintf(&b, "shardgate bench%s: %d connections over %d node(s)%s, %s, %s, %.1fs measured",
		status, rep.Conns, len(rep.Nodes), where, who, load, rep.ElapsedSec)
	if rep.WarmupCounts.Sent > 0 {
		fmt.Fprintf(&b, " after %s warm-up (%d sent, %d acked)", rep.Warmup, rep.WarmupCounts.Sent, rep.WarmupCounts.Acked)
	}
	fmt.Fprintf(&b, ", %d-byte payloads\n\n", rep.Size)
	row := func(name string, n int64, rate float64) {
		fmt.Fprintf(&b, "  %-18s %10d", name, n)
		if rate >= 0 {
			fmt.Fprintf(&b, " %12.1f/s", rate)
		}
		b.WriteByte('\n')
	}
	row("sent", rep.Sent, rep.SentPerSec)
	row("acknowledged", rep.Acked, rep.AckedPerSec)
	row("delivered", rep.Delivered, rep.DeliveredPerSec)
	row("lost", rep.Lost, -1)
	if rep.Mode == ModeFanout {
		row("missed (at most once)", rep.Missed, -1)
	}
	row("duplicated", rep.Duplicated, -1)
	row("reordered", rep.Reordered, -1)
	row("delivered unacked", rep.DeliveredUnacked, -1)
	row("failed sends", rep.Failed, -1)
	row("retries", rep.Retries, -1)
	row("reconnects", rep.Reconnects, -1)
	for _, e := range rep.Disconnects {
		fmt.Fprintf(&b, "    closed %-9s %10d   first: %s\n", e.Kind, e.Count, e.First)
	}
	row("errors", rep.Errors, -1)
	for _, e := range rep.ErrorKinds {
		fmt.Fprintf(&b, "    %-16s %10d   first: %s\n", e.Kind, e.Count, e.First)
	}
	fmt.Fprintf(&b, "\n  %-18s %10s %10s %10s %10s %10s\n", "latency (ms)", "p50", "p99", "p999", "max", "mean")
	for _, l := range []struct {
		name string
		l    Latency
	}{{"ack", rep.AckLatency}, {"delivery", rep.DeliveryLatency}} {
		fmt.Fprintf(&b, "  %-18s %10.3f %10.3f %10.3f %10.3f %10.3f\n", l.name, l.l.P50, l.l.P99, l.l.P999, l.l.Max, l.l.Mean)
	}
	if len(rep.NodeCPU) > 0 {
		per := "acknowledged send"
		if rep.Mode == ModeFanout {
			per = "delivered publication"
		}
		fmt.Fprintf(&b, "\n  node CPU %.2f s over %d node(s): %.2f µs per %s\n", rep.NodeCPUSec, len(rep.NodeCPU), rep.CPUPerMessageUs, per)
		for _, n := range rep.NodeCPU {
			fmt.Fprintf(&b, "    %-40s %8.2f s\n", n.URL, n.Seconds)
		}
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
