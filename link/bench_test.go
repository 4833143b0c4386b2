package link

import (
	"context"
	"testing"
)

// BenchmarkCall measures round trips on loopback between two meshes in one
// process: "sequential" is latency-bound (one call at a time), "parallel"
// shows what batching buys when many callers share the link.
func BenchmarkCall(b *testing.B) {
	x := mustNode(b, "a", nil, nil)
	y := mustNode(b, "b", echoHandler, nil)
	link(x, y)
	ctx := context.Background()
	req := map[string]any{"to": "bob", "data": "hello"}
	if err := x.m.Call(ctx, "b", "echo", req, nil); err != nil {
		b.Fatal(err)
	}
	report := func(b *testing.B, frames0, envs0 int64) {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		if f := x.m.stats.framesOut.Load() - frames0; f > 0 {
			b.ReportMetric(float64(x.m.stats.envelopesOut.Load()-envs0)/float64(f), "reqs/frame")
		}
	}

	b.Run("sequential", func(b *testing.B) {
		f0, e0 := x.m.stats.framesOut.Load(), x.m.stats.envelopesOut.Load()
		var got echoReply
		for b.Loop() {
			if err := x.m.Call(ctx, "b", "echo", req, &got); err != nil {
				b.Fatal(err)
			}
		}
		report(b, f0, e0)
	})
	b.Run("parallel", func(b *testing.B) {
		f0, e0 := x.m.stats.framesOut.Load(), x.m.stats.envelopesOut.Load()
		b.SetParallelism(64) // many callers per core, as when a node forwards for many clients
		b.RunParallel(func(pb *testing.PB) {
			var got echoReply
			for pb.Next() {
				if err := x.m.Call(ctx, "b", "echo", req, &got); err != nil {
					b.Error(err)
					return
				}
			}
		})
		report(b, f0, e0)
	})
}

// BenchmarkCallBatch is BenchmarkCall with a body shaped like the pushes
// and replication batches that dominate node traffic (a key and 8
// messages), which has a binary form, answered with the same batch.
func BenchmarkCallBatch(b *testing.B) {
	x := mustNode(b, "a", nil, nil)
	y := mustNode(b, "b", batchHandler, nil)
	link(x, y)
	ctx := context.Background()
	req := testBatch(8)
	if err := x.m.Call(ctx, "b", "batch", req, nil); err != nil {
		b.Fatal(err)
	}
	b.Run("sequential", func(b *testing.B) {
		var got batch
		for b.Loop() {
			if err := x.m.Call(ctx, "b", "batch", req, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(64)
		b.RunParallel(func(pb *testing.PB) {
			var got batch
			for pb.Next() {
				if err := x.m.Call(ctx, "b", "batch", req, &got); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
