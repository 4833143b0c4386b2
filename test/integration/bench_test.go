package integration

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/client"
	"github.com/shardgate/shardgate/internal/testutil"
)

// Benchmarks of whole clusters in this process. Figures depend on the
// machine; compare within one run.

func durableCluster(b *testing.B, n, backups int, local bool) *tcluster {
	return newCluster(b, n, func(c *app.Config) {
		c.NoSync = os.Getenv("SHARDGATE_BENCH_NOSYNC") != ""
		c.Backups = backups
		c.Local = local
	})
}

// BenchmarkCrossNodeSend measures acknowledged sends per second from
// clients on n1 to keys whose home is on other nodes, with real fsync, for
// B=0 and B=1 on the same run.
func BenchmarkCrossNodeSend(b *testing.B) {
	for _, backups := range []int{0, 1} {
		b.Run(fmt.Sprintf("B=%d", backups), func(b *testing.B) {
			c := durableCluster(b, 3, backups, true)
			var keys []string
			for i := 0; len(keys) < 64; i++ {
				k := fmt.Sprintf("k%d", i)
				if r, _ := c.node("n1").Node().Route(context.Background(), k); r.Owner != "n1" {
					keys = append(keys, k)
				}
			}
			const conns = 256
			var clients []*client.Conn
			for i := 0; i < conns; i++ {
				clients = append(clients, c.dial("n1", fmt.Sprintf("s%d", i), nil))
			}
			lat := make([][]time.Duration, conns)
			var next atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for i, cl := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
						t0 := time.Now()
						if _, err := cl.Send(context.Background(), keys[n%int64(len(keys))], n, fmt.Sprintf("%d", n)); err != nil {
							b.Error(err)
							return
						}
						lat[i] = append(lat[i], time.Since(t0))
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			var all []time.Duration
			for _, l := range lat {
				all = append(all, l...)
			}
			sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
			b.ReportMetric(float64(b.N)/el.Seconds(), "acked/s")
			if len(all) > 0 {
				b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}

// BenchmarkRoute measures the key → shard → home look-up.
func BenchmarkRoute(b *testing.B) {
	c := newCluster(b, 3, nil)
	n := c.node("n1").Node()
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d", i)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := n.Route(ctx, keys[i&1023]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFailover measures, with the default (production) failure
// detection, the time from killing the home of a shard until a write to
// that shard is acknowledged again.
func BenchmarkFailover(b *testing.B) {
	for i := 0; i < b.N; i++ {
		c := durableCluster(b, 3, 1, false)
		key := keyHomedOn(b, c, "n3", "victim")
		cl := c.dial("n1", "writer", nil)
		ctx := context.Background()
		if _, err := cl.Send(ctx, key, "before", "before"); err != nil {
			b.Fatal(err)
		}
		killed := time.Now()
		c.kill("n3")
		for n := 0; ; n++ {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := cl.Send(cctx, key, n, fmt.Sprintf("after-%d", n))
			cancel()
			if err == nil {
				break
			}
			if time.Since(killed) > 30*time.Second {
				b.Fatalf("writes not acknowledged 30s after the kill: %v", err)
			}
		}
		b.ReportMetric(time.Since(killed).Seconds(), "s-to-writable")
		c.closeAll()
	}
}

// BenchmarkShardMove10MB fills one shard with 10 MB of messages, moves it
// to another node, and reports how long the move took and the longest
// stall seen by a writer to that shard during it.
func BenchmarkShardMove10MB(b *testing.B) {
	for i := 0; i < b.N; i++ {
		c := durableCluster(b, 3, 1, true)
		api := c.node("n1").Node()
		ctx := context.Background()
		key := keyHomedOn(b, c, "n2", "big")
		r, _ := api.Route(ctx, key)
		payload := make([]byte, 4000)
		for j := range payload {
			payload[j] = 'x'
		}
		data := fmt.Sprintf("%q", payload)
		var wg sync.WaitGroup
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := w; j < 2600; j += 16 {
					if _, err := api.Send(ctx, "writer", key, []byte(data), fmt.Sprintf("fill-%d", j)); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		to := "n3"
		if r.Backups[0] == "n3" {
			to = "n1"
		}
		var longest atomic.Int64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			last := time.Now()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := api.Send(ctx, "probe", key, []byte(`1`), fmt.Sprintf("p-%d", j)); err == nil {
					if gap := time.Since(last); gap > time.Duration(longest.Load()) {
						longest.Store(int64(gap))
					}
					last = time.Now()
				}
			}
		}()
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		if _, err := api.MoveShard(ctx, r.Shard, to); err != nil {
			b.Fatal(err)
		}
		testutil.Eventually(b, 60*time.Second, "shard moved", func() bool {
			r2, _ := api.Route(ctx, key)
			return r2.Owner == to
		})
		moved := time.Since(start)
		time.Sleep(200 * time.Millisecond)
		close(stop)
		<-done
		b.ReportMetric(moved.Seconds(), "s-move")
		b.ReportMetric(float64(time.Duration(longest.Load()).Milliseconds()), "ms-longest-stall")
		c.closeAll()
	}
}
