package observability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/internal/apptest"
)

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want string
	}{
		{`shardgate_quorum == 0`, "shardgate_quorum"},
		{`histogram_quantile(0.99, sum by (instance, le) (rate(x_bucket{job="a b"}[5m]))) > 0.1`, "x_bucket"},
		{`max(a) - min(b) > 0 and on (instance) c offset 5m`, "a,b,c"},
		{`increase(m_total{result="error"}[15m]) > 0`, "m_total"},
		{`sum by (code) (rate(closed_total[5m])) / ignoring(code) group_left opened`, "closed_total,opened"},
		{`shardgate_store_size_bytes > 800 * 1024`, "shardgate_store_size_bytes"},
		{`x > 1e9 and y offset 1h30m`, "x,y"},
	}
	for _, tc := range tests {
		if got := strings.Join(metricNames(tc.expr), ","); got != tc.want {
			t.Errorf("metricNames(%q) = %s, want %s", tc.expr, got, tc.want)
		}
	}
}

// alertExprs reads the expr of every rule of alerts.yaml (one line each).
func alertExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	exprs := regexp.MustCompile(`(?m)^\s*expr:\s*(.+)$`).FindAllStringSubmatch(string(b), -1)
	alerts := regexp.MustCompile(`(?m)^\s*- alert:\s*\S+`).FindAllString(string(b), -1)
	if len(exprs) == 0 || len(exprs) != len(alerts) {
		t.Fatalf("alerts.yaml: %d alerts, %d one-line exprs: keep every expr on one line", len(alerts), len(exprs))
	}
	var out []string
	for _, m := range exprs {
		out = append(out, strings.TrimSpace(m[1]))
	}
	return out
}

// dashboardExprs reads every target expression of the Grafana dashboard.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("grafana-dashboard.json: title %q uid %q, %d panels", dash.Title, dash.UID, len(dash.Panels))
	}
	var out []string
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q has an empty query", p.Title)
			}
			out = append(out, tg.Expr)
		}
	}
	return out
}

// TestRulesAndDashboardUseExposedMetrics starts two nodes, makes every
// labelled family appear (a client connects and leaves, shards are copied
// to the second node), scrapes /metrics on both and checks every metric
// the alert rules and the dashboard read against what was scraped.
func TestRulesAndDashboardUseExposedMetrics(t *testing.T) {
	exposed := scrapeCluster(t)
	for file, exprs := range map[string][]string{"alerts.yaml": alertExprs(t), "grafana-dashboard.json": dashboardExprs(t)} {
		used := 0
		for _, e := range exprs {
			names := metricNames(e)
			if len(names) == 0 {
				t.Errorf("%s: %q reads no metric", file, e)
			}
			for _, n := range names {
				used++
				if !exposed[n] {
					t.Errorf("%s: %q reads %s, which /metrics does not expose", file, e, n)
				}
			}
		}
		t.Logf("%s: %d expressions, %d metric references, all exposed", file, len(exprs), used)
	}
}

// scrapeCluster returns every series name the nodes' /metrics expose,
// histogram and summary series (_bucket, _sum, _count) included.
func scrapeCluster(t *testing.T) map[string]bool {
	t.Helper()
	servers := startNodes(t, 2)
	// A client that connects and leaves: connections opened and closed.
	ws, _, err := websocket.DefaultDialer.Dial(servers[0].WSURL()+"?user=alice", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
	ws.Close()

	need := []string{"shardgate_connections_closed_total", "shardgate_shard_moves_total", "shardgate_link_queue_depth"}
	exposed := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for {
		clear(exposed)
		for _, s := range servers {
			for name := range scrape(t, s.AdminURL()+"/metrics") {
				exposed[name] = true
			}
		}
		missing := slices.DeleteFunc(slices.Clone(need), func(n string) bool { return exposed[n] })
		if len(missing) == 0 {
			return exposed
		}
		if time.Now().After(deadline) {
			t.Fatalf("labelled families never appeared: %v", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func scrape(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	names := map[string]bool{}
	for name, f := range families {
		names[name] = true
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[name+"_sum"], names[name+"_count"] = true, true
		}
	}
	return names
}

// startNodes runs n nodes in this process and waits until each is ready
// and owns shards.
func startNodes(t *testing.T, n int) []*app.Server {
	t.Helper()
	servers := apptest.Start(t, n, func(cfg *app.Config) { cfg.Partitions = 16 })
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range servers {
		for {
			err := s.Node().Ready()
			if err == nil {
				pv, perr := s.Node().Partitions(context.Background())
				owned := 0
				for _, p := range pv.Partitions {
					if p.Owner == s.Name() {
						owned++
					}
				}
				if perr == nil && owned > 0 {
					break
				}
				err = fmt.Errorf("owns no shard yet")
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v", s.Name(), err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return servers
}
