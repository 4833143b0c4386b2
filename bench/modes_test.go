package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/internal/testutil"
)

// TestModes runs the closed loop and the topic fan-out against a real
// two-node cluster in this process, reading node CPU from /metrics.
func TestModes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	// A closed loop on a fast machine goes past the default 200 frames a
	// second per connection, and the refusals (1002) would count as
	// failed sends; these tests are about the bench, not the limits.
	nodes := MustCluster(t, 2, func(c *app.Config) { c.ConnRate, c.UserSendRate = 1e6, 1e6 })
	base := func() Config {
		cfg := DefaultConfig()
		cfg.Nodes = []string{nodes[0].WSURL(), nodes[1].WSURL()}
		cfg.Duration, cfg.Warmup, cfg.Grace = 1500*time.Millisecond, 300*time.Millisecond, 3*time.Second
		// The nodes share this process: one URL, or the CPU counts twice.
		cfg.Metrics = []string{nodes[0].AdminURL()}
		return cfg
	}

	t.Run("closed loop", func(t *testing.T) {
		cfg := base()
		cfg.Conns, cfg.InFlight, cfg.Rate = 8, 4, 1 // the rate is ignored
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkConsistent(t, rep)
		if rep.Mode != ModeSend || rep.InFlight != 4 {
			t.Errorf("mode %q in flight %d", rep.Mode, rep.InFlight)
		}
		// At 1 send/s an open loop would send one or two; four always
		// outstanding send many more.
		if rep.Acked < 20 || rep.Acked != rep.Sent || rep.Delivered != rep.Acked {
			t.Errorf("closed loop: sent %d acked %d delivered %d failed %d errors %v", rep.Sent, rep.Acked, rep.Delivered, rep.Failed, rep.ErrorKinds)
		}
		checkCPU(t, rep)
		checkReports(t, rep)
		testutil.EventuallyExplained(t, 5*time.Second, "end of the bench's goroutines", ownGoroutines)
	})

	t.Run("fan-out", func(t *testing.T) {
		cfg := base()
		cfg.Mode, cfg.Subscribers, cfg.Publishers, cfg.InFlight = ModeFanout, 20, 2, 2
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Conns != 22 || rep.Subscribers != 20 || rep.Publishers != 2 {
			t.Errorf("conns %d subscribers %d publishers %d", rep.Conns, rep.Subscribers, rep.Publishers)
		}
		if rep.Acked < 10 || rep.Delivered != 20*rep.Acked || rep.Missed != 0 || rep.Foreign != 0 {
			t.Errorf("fan-out on a quiet cluster: acked %d publications, %d deliveries (want 20 each), missed %d, foreign %d",
				rep.Acked, rep.Delivered, rep.Missed, rep.Foreign)
		}
		if uint64(rep.Delivered) != rep.DeliveryLatency.Count || uint64(rep.Acked) != rep.AckLatency.Count {
			t.Errorf("latency counts %d/%d for %d acked, %d delivered", rep.AckLatency.Count, rep.DeliveryLatency.Count, rep.Acked, rep.Delivered)
		}
		if len(rep.Problems()) != 0 {
			t.Errorf("problems: %v", rep.Problems())
		}
		checkCPU(t, rep)
		checkReports(t, rep)
		var table strings.Builder
		if err := rep.WriteTable(&table); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"20 subscribers, 2 publishers", "missed", "per delivered publication"} {
			if !strings.Contains(table.String(), want) {
				t.Errorf("table lacks %q:\n%s", want, table.String())
			}
		}
		testutil.EventuallyExplained(t, 5*time.Second, "end of the bench's goroutines", ownGoroutines)
	})

	t.Run("routed", func(t *testing.T) {
		cfg := base()
		cfg.Conns, cfg.InFlight, cfg.Route = 12, 4, true
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkConsistent(t, rep)
		if !rep.Routed || rep.Acked < 20 || rep.Delivered != rep.Acked {
			t.Errorf("routed closed loop: routed %v, sent %d acked %d delivered %d", rep.Routed, rep.Sent, rep.Acked, rep.Delivered)
		}
		var table strings.Builder
		if err := rep.WriteTable(&table); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(table.String(), "each on its key's home") {
			t.Errorf("the table does not say the connections were routed:\n%s", table.String())
		}
		// Round robin puts about half of these on the other node; routed,
		// every one is welcomed by its key's home.
		peers, err := newPeers(cfg, "routed")
		if err != nil {
			t.Fatal(err)
		}
		if err := dialAll(context.Background(), peers); err != nil {
			t.Fatal(err)
		}
		for _, p := range peers {
			r, err := nodes[0].Node().Route(context.Background(), p.key)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.client().Welcome().Node; got != r.Owner {
				t.Errorf("%s is connected to %s, its home is %s", p.key, got, r.Owner)
			}
			p.client().Close()
		}
		testutil.EventuallyExplained(t, 5*time.Second, "end of the bench's goroutines", ownGoroutines)
	})

	t.Run("unreadable metrics", func(t *testing.T) {
		cfg := base()
		cfg.Conns, cfg.Metrics = 2, []string{nodes[0].PublicURL() + "/nope"}
		if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "--metrics") {
			t.Errorf("err = %v, want one naming --metrics", err)
		}
		testutil.EventuallyExplained(t, 5*time.Second, "end of the bench's goroutines", ownGoroutines)
	})
}

func checkCPU(t *testing.T, rep *Report) {
	t.Helper()
	if len(rep.NodeCPU) != 1 || !(rep.NodeCPUSec > 0) || !(rep.CPUPerMessageUs > 0) {
		t.Errorf("node CPU %+v, %.3f s, %.1f µs per message", rep.NodeCPU, rep.NodeCPUSec, rep.CPUPerMessageUs)
	}
}

func TestParseCPU(t *testing.T) {
	tests := []struct {
		name, text string
		want       float64
		wantErr    string
	}{
		{"plain", "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.34\n", 12.34, ""},
		{"labels and a timestamp", "go_goroutines 7\nprocess_cpu_seconds_total{job=\"n1\"} 1.5e+01 1700000000000\n", 15, ""},
		{"a longer name is another metric", "process_cpu_seconds_total_extra 3\nprocess_cpu_seconds_total 4\n", 4, ""},
		{"absent", "go_goroutines 7\n", 0, "no process_cpu_seconds_total"},
		{"not a number", "process_cpu_seconds_total lots\n", 0, "value \"lots\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCPU(strings.NewReader(tt.text))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
