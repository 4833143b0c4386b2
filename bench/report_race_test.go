package bench

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
)

// TestReportNeverSplitsADelivery takes reports while deliveries go on, as
// Run does (receivers outlive the sending): every report must find as
// many delivery latencies as deliveries, in both modes.
func TestReportNeverSplitsADelivery(t *testing.T) {
	const deliveries = 3000
	for _, mode := range []string{ModeSend, ModeFanout} {
		t.Run(mode, func(t *testing.T) {
			r := &runner{runID: "r1"}
			r.cfg.Mode = mode
			p := &peer{key: "k", inbox: &inbox{}}
			r.recips = []*peer{p}
			if mode == ModeFanout {
				r.fan = &fanout{r: r}
			}
			var wg sync.WaitGroup
			wg.Go(func() {
				for seq := uint64(1); seq <= deliveries; seq++ {
					data := makePayload(fmt.Sprintf("r1-%d", seq), time.Now(), false, 0)
					if r.fan != nil {
						r.fan.onPublication(shardgate.Publication{Topic: "t", Data: data})
					} else {
						r.onMessage(p, shardgate.Message{Seq: seq, Data: data})
					}
				}
			})
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			for reports := 0; ; reports++ {
				select {
				case <-done:
					rep := r.report(window{}, false)
					if rep.Delivered != deliveries || rep.DeliveryLatency.Count != deliveries {
						t.Fatalf("final report: %d delivered, %d latencies, want %d", rep.Delivered, rep.DeliveryLatency.Count, deliveries)
					}
					t.Logf("%d reports taken during the deliveries", reports)
					return
				default:
				}
				if rep := r.report(window{}, false); uint64(rep.Delivered) != rep.DeliveryLatency.Count {
					wg.Wait()
					t.Fatalf("a report taken during deliveries counts %d delivered but %d latencies", rep.Delivered, rep.DeliveryLatency.Count)
				}
			}
		})
	}
}
