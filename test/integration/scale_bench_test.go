package integration

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardgate/shardgate/client"
	"github.com/shardgate/shardgate/internal/testutil"
)

// idleCPU is the share of a core the cluster uses with nothing to do
// (gossip, link heartbeats, statistics). A cluster that has just become
// stable still drops the shard copies it moved and gossips its last table
// for a second or two (at 12 nodes its first two seconds used 16–27 % of
// a core, its later one-second windows 6–9 %), so six one-second windows
// are measured and the idle share is the median of the last four; the
// sends start after them, on a quiet cluster.
func idleCPU(b *testing.B) float64 {
	var shares []float64
	for i := 0; i < 6; i++ {
		cpu0, t0 := testutil.ProcessCPU(b), time.Now()
		time.Sleep(time.Second)
		shares = append(shares, float64(testutil.ProcessCPU(b)-cpu0)/float64(time.Since(t0)))
	}
	last := shares[2:]
	slices.Sort(last)
	return (last[1] + last[2]) / 2
}

// netMicros is the CPU per message once the idle cost over the same time
// is taken away.
func netMicros(cpu time.Duration, idle float64, el time.Duration, n int) float64 {
	net := float64(cpu) - idle*float64(el)
	return net / 1e3 / float64(n)
}

// BenchmarkScaleSend shows whether the cost of a durable send stays flat as
// the cluster grows: 3, 6 and 12 nodes in this process (fsync on, B = 1),
// 96 connections spread over every node, each sending to random keys and
// waiting for the ack. CPU is the whole process's (nodes and clients), per
// acknowledged send, in total and net of what the idle cluster uses over
// the same time; compare the sizes within one run.
func BenchmarkScaleSend(b *testing.B) {
	for _, n := range []int{3, 6, 12} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			c := durableCluster(b, n, 1, true)
			const conns = 96
			clients := make([]*client.Conn, conns)
			for i := range clients {
				clients[i] = c.dial(fmt.Sprintf("n%d", i%n+1), fmt.Sprintf("s%d", i), nil)
			}
			idle := idleCPU(b)
			var next atomic.Int64
			var failed atomic.Int64
			var firstErr atomic.Value
			var retries atomic.Int64
			b.ResetTimer()
			cpu0, start := testutil.ProcessCPU(b), time.Now()
			var wg sync.WaitGroup
			for _, cl := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						key := fmt.Sprintf("k%d", (i*7919)%1024)
						// A refused send is retried under its id, as a client
						// would: on a small shared machine a 12-node cluster in
						// one process answers some writes with 1003.
						var err error
						for attempt := 0; attempt < 5; attempt++ {
							if _, err = cl.Send(context.Background(), key, i, fmt.Sprintf("%d", i)); err == nil {
								break
							}
							retries.Add(1)
						}
						if err != nil {
							failed.Add(1)
							firstErr.CompareAndSwap(nil, err)
						}
					}
				}()
			}
			wg.Wait()
			cpu, el := testutil.ProcessCPU(b)-cpu0, time.Since(start)
			b.StopTimer()
			if f := failed.Load(); f > 0 {
				b.Fatalf("%d of %d sends failed, the first with: %v", f, b.N, firstErr.Load())
			}
			b.ReportMetric(float64(b.N)/el.Seconds(), "acked/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/send")
			b.ReportMetric(netMicros(cpu, idle, el, b.N), "net-cpu-µs/send")
			b.ReportMetric(idle*100, "idle-cpu-%")
			b.ReportMetric(float64(retries.Load()), "retries")
		})
	}
}

// BenchmarkScalePublish shows what a publication costs as the cluster
// grows: the topic's 100 subscribers all sit on n1 and publishers on every
// node publish and wait for the answer. CPU per delivered publication is
// the whole process's; with topic interest it should stay flat, since
// nodes without subscribers need not hear of the publication.
func BenchmarkScalePublish(b *testing.B) {
	for _, n := range []int{3, 6, 12} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			c := durableCluster(b, n, 1, true)
			ctx := context.Background()
			const subscribers, publishers = 100, 24
			var delivered atomic.Int64
			var readers sync.WaitGroup
			for i := 0; i < subscribers; i++ {
				s := c.dial("n1", fmt.Sprintf("sub%d", i), nil)
				if err := s.Subscribe(ctx, "scale"); err != nil {
					b.Fatal(err)
				}
				readers.Add(1)
				go func() {
					defer readers.Done()
					for {
						select {
						case <-s.Publications():
							delivered.Add(1)
						case <-s.Done():
							return
						}
					}
				}()
			}
			pubs := make([]*client.Conn, publishers)
			for i := range pubs {
				pubs[i] = c.dial(fmt.Sprintf("n%d", i%n+1), fmt.Sprintf("pub%d", i), nil)
			}
			idle := idleCPU(b)
			var next atomic.Int64
			b.ResetTimer()
			cpu0, start := testutil.ProcessCPU(b), time.Now()
			var wg sync.WaitGroup
			for _, p := range pubs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						if _, err := p.Publish(ctx, "scale", i); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			want := int64(b.N) * subscribers
			deadline := time.Now().Add(10 * time.Second)
			for delivered.Load() < want && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			cpu, el := testutil.ProcessCPU(b)-cpu0, time.Since(start)
			b.StopTimer()
			got := delivered.Load()
			b.ReportMetric(float64(got)/el.Seconds(), "deliveries/s")
			if got > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(got), "cpu-µs/delivery")
				b.ReportMetric(netMicros(cpu, idle, el, int(got)), "net-cpu-µs/delivery")
			}
			b.ReportMetric(float64(want-got), "missed")
			b.ReportMetric(idle*100, "idle-cpu-%")
			c.closeAll()
			readers.Wait()
		})
	}
}
