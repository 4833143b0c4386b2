package admin

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestMetricsParseAndHaveTheFamilies(t *testing.T) {
	h := newHarness(t)
	// Vectors only appear once a label value exists.
	h.m.LinkQueueDepth.WithLabelValues("n2").Set(3)
	h.m.AckLatency.Observe(0.002)
	h.m.MessagesIn.Inc()

	r := h.do(t, "GET", "/metrics", "", "")
	if r.Status != http.StatusOK {
		t.Fatalf("status %d", r.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	for _, name := range []string{
		"shardgate_connections", "shardgate_messages_in_total", "shardgate_messages_out_total",
		"shardgate_messages_forwarded_total", "shardgate_ack_latency_seconds", "shardgate_link_queue_depth",
		"shardgate_shards_owned", "shardgate_shards_backed_up", "shardgate_shards_moving",
		"shardgate_shards_under_replicated", "shardgate_table_version", "shardgate_memberlist_health_score",
		"shardgate_store_commit_latency_seconds", "shardgate_store_size_bytes",
	} {
		if _, ok := fams[name]; !ok {
			t.Errorf("family %s missing", name)
		}
	}
	if got := fams["shardgate_messages_in_total"].GetMetric()[0].GetCounter().GetValue(); got != 1 {
		t.Errorf("messages_in_total = %v, want 1", got)
	}
	depth := fams["shardgate_link_queue_depth"].GetMetric()[0]
	if depth.GetLabel()[0].GetValue() != "n2" || depth.GetGauge().GetValue() != 3 {
		t.Errorf("link_queue_depth = %v", depth)
	}
}
