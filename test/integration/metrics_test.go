package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsOfRealNodes runs two nodes, sends messages through the engine
// and through a client connection, and reads every node's /metrics with the
// Prometheus text parser: the families an operator needs are there, with
// values that follow the traffic.
func TestMetricsOfRealNodes(t *testing.T) {
	t.Parallel()
	const partitions = 64
	c := newCluster(t, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Through the engine: keys homed on both nodes, sent from n1, so n1
	// forwards some.
	n1 := c.node("n1").Node()
	for i, home := range []string{"n1", "n2", "n2"} {
		key := keyHomedOn(t, c, home, fmt.Sprintf("metrics-%d", i))
		for j := 0; j < 5; j++ {
			if _, err := n1.Send(ctx, "metrics", key, json.RawMessage(`{"n":1}`), ""); err != nil {
				t.Fatalf("send to %s: %v", key, err)
			}
		}
	}
	// Through client connections: frames in on n1, deliveries out on n2.
	alice := c.dial("n1", "alice", nil)
	bob := c.dial("n2", "bob", nil)
	for i := 0; i < 3; i++ {
		if _, err := alice.Send(ctx, "bob", i, ""); err != nil {
			t.Fatal(err)
		}
	}
	recvN(t, bob, 3)

	type check struct {
		family string
		ok     func(byNode map[string]nodeFamily) string // "" when fine
	}
	sum := func(byNode map[string]nodeFamily, f func(nodeFamily) float64) float64 {
		s := 0.0
		for _, nf := range byNode {
			s += f(nf)
		}
		return s
	}
	atLeast := func(min float64, f func(nodeFamily) float64) func(map[string]nodeFamily) string {
		return func(byNode map[string]nodeFamily) string {
			if s := sum(byNode, f); s < min {
				return fmt.Sprintf("sum over nodes %g, want at least %g", s, min)
			}
			return ""
		}
	}
	exactly := func(want float64, f func(nodeFamily) float64) func(map[string]nodeFamily) string {
		return func(byNode map[string]nodeFamily) string {
			if s := sum(byNode, f); s != want {
				return fmt.Sprintf("sum over nodes %g, want %g", s, want)
			}
			return ""
		}
	}
	onEvery := func(what string, f func(name string, nf nodeFamily) bool) func(map[string]nodeFamily) string {
		return func(byNode map[string]nodeFamily) string {
			for name, nf := range byNode {
				if !f(name, nf) {
					return fmt.Sprintf("%s: %s", name, what)
				}
			}
			return ""
		}
	}
	value := func(nf nodeFamily) float64 { return nf.value }
	count := func(nf nodeFamily) float64 { return float64(nf.count) }
	checks := []check{
		{"shardgate_connections", atLeast(2, value)},
		{"shardgate_messages_in_total", atLeast(3, value)},
		{"shardgate_messages_out_total", atLeast(3, value)},
		{"shardgate_messages_forwarded_total", atLeast(10, value)},
		{"shardgate_messages_stored_total", atLeast(18, value)},
		{"shardgate_ack_latency_seconds", atLeast(18, count)},
		{"shardgate_shards_owned", exactly(partitions, value)},
		{"shardgate_shards_backed_up", exactly(partitions, value)}, // B = 1: each shard once on the other node
		{"shardgate_shards_moving", exactly(0, value)},
		{"shardgate_shards_under_replicated", exactly(0, value)},
		{"shardgate_table_version", onEvery("table version 0", func(_ string, nf nodeFamily) bool { return nf.value > 0 })},
		{"shardgate_memberlist_health_score", onEvery("unhealthy", func(_ string, nf nodeFamily) bool { return nf.value >= 0 })},
		{"shardgate_store_commit_latency_seconds", onEvery("no commit observed", func(_ string, nf nodeFamily) bool { return nf.count > 0 })},
		{"shardgate_store_size_bytes", onEvery("size 0", func(_ string, nf nodeFamily) bool { return nf.value > 0 })},
		// Every send forwarded from n1 crossed the link, in frames of at
		// least one envelope each.
		{"shardgate_link_frames_out_total", atLeast(1, value)},
		{"shardgate_link_envelopes_out_total", atLeast(10, value)},
		{"shardgate_link_frames_in_total", atLeast(1, value)},
		{"shardgate_link_bad_envelopes_total", exactly(0, value)},
		{"shardgate_link_queue_depth", onEvery("no series for the peer", func(name string, nf nodeFamily) bool {
			peer := map[string]string{"n1": "n2", "n2": "n1"}[name]
			_, ok := nf.byLabel["peer="+peer]
			return ok
		})},
	}

	// Gauges are refreshed by each node's stats loop: poll until every
	// check holds, then report what still does not.
	var problems, seen []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		scraped := map[string]map[string]nodeFamily{} // family → node → values
		for _, s := range c.live() {
			for fam, nf := range scrapeMetrics(t, s.AdminURL()+"/metrics") {
				if scraped[fam] == nil {
					scraped[fam] = map[string]nodeFamily{}
				}
				scraped[fam][s.Name()] = nf
			}
		}
		problems, seen = problems[:0], seen[:0]
		for _, ch := range checks {
			byNode := scraped[ch.family]
			seen = append(seen, fmt.Sprintf("%s %s", ch.family, describe(byNode)))
			if len(byNode) != len(c.live()) {
				problems = append(problems, fmt.Sprintf("%s: exported by %d of %d nodes", ch.family, len(byNode), len(c.live())))
				continue
			}
			if why := ch.ok(byNode); why != "" {
				problems = append(problems, ch.family+": "+why)
			}
		}
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("per node:\n%s", strings.Join(seen, "\n"))
	for _, p := range problems {
		t.Error(p)
	}
}

// describe shows a family's values per node, for the log.
func describe(byNode map[string]nodeFamily) string {
	var names []string
	for name := range byNode {
		names = append(names, name)
	}
	sort.Strings(names)
	var parts []string
	for _, name := range names {
		nf := byNode[name]
		if nf.count > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d obs/%.4gs", name, nf.count, nf.value))
		} else {
			parts = append(parts, fmt.Sprintf("%s=%g", name, nf.value))
		}
	}
	return strings.Join(parts, " ")
}

// nodeFamily is one metric family of one node, reduced to what the checks
// read: the sum of its values (or, for histograms, of its sample sums), the
// number of observations for histograms, and the value per label set.
type nodeFamily struct {
	value   float64
	count   uint64
	byLabel map[string]float64
}

// scrapeMetrics GETs a Prometheus text endpoint and parses it with the
// Prometheus text parser.
func scrapeMetrics(t *testing.T, url string) map[string]nodeFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	out := map[string]nodeFamily{}
	for name, mf := range fams {
		nf := nodeFamily{byLabel: map[string]float64{}}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
			if h := m.GetHistogram(); h != nil {
				v = h.GetSampleSum()
				nf.count += h.GetSampleCount()
			}
			nf.value += v
			nf.byLabel[strings.Join(labels, ",")] = v
		}
		out[name] = nf
	}
	return out
}
