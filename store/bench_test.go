package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shardgate/shardgate/internal/testutil"
)

// BenchmarkApplyFsync measures durable appends, one OpMessage per call, with
// real fsync, from 1, 64, 256 and 1024 concurrent writers spread over the
// 271 shards: the gain from group commit is ops/s (and ops/commit) as
// writers grow; cpu-µs/op is the process's CPU time (user and system) per
// append, which the machine's other tenants disturb far less than ops/s.
func BenchmarkApplyFsync(b *testing.B) {
	for _, writers := range []int{1, 64, 256, 1024} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			var cc commitCounter
			cfg := DefaultConfig(filepath.Join(b.TempDir(), "bench.db"))
			cfg.OnCommit = cc.OnCommit
			s := MustOpen(b, cfg)
			ctx := context.Background()
			var handed atomic.Int64
			var wg sync.WaitGroup
			cpu0 := testutil.ProcessCPU(b)
			b.ResetTimer()
			for w := range writers {
				wg.Go(func() {
					key := fmt.Sprintf("writer-%d", w)
					for seq := uint64(1); handed.Add(1) <= int64(b.N); seq++ {
						if err := s.Apply(ctx, []Op{msgOp(w%271, key, seq, 0)}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64((testutil.ProcessCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
			b.ReportMetric(float64(b.N)/float64(max(cc.commits.Load(), 1)), "ops/commit")
		})
	}
}

// BenchmarkRead measures a page read from a 10,000-message inbox.
func BenchmarkRead(b *testing.B) {
	cfg := testConfig(b.TempDir())
	s := MustOpen(b, cfg)
	const total = 10000
	var ops []Op
	for seq := uint64(1); seq <= total; seq++ {
		ops = append(ops, msgOp(0, "reader", seq, 0))
	}
	MustApply(b, s, ops...)
	for _, limit := range []int{1, 100} {
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) {
			var since uint64
			for b.Loop() {
				msgs, _, err := s.Read(0, "reader", since, limit)
				if err != nil || len(msgs) == 0 {
					b.Fatalf("read since %d: %d messages, %v", since, len(msgs), err)
				}
				since = (since + 997) % (total - uint64(limit))
			}
			b.ReportMetric(float64(b.N*limit)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
