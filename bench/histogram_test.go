package bench

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestBucketsCoverEveryValue(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 40, 1<<63 + 12345, ^uint64(0)} {
		i := bucketOf(v)
		if i < 0 || i >= nBuckets {
			t.Fatalf("value %d: bucket %d out of range", v, i)
		}
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Errorf("value %d in bucket %d holding [%d, %d]", v, i, lo, hi)
		}
		if hi-lo > hi/subCount {
			t.Errorf("bucket %d [%d, %d] is wider than 1/%d of its values", i, lo, hi, subCount)
		}
	}
}

func TestQuantilesMatchSortedSample(t *testing.T) {
	var h Histogram
	rng := rand.New(rand.NewPCG(1, 2))
	var sample []time.Duration
	for range 100000 {
		d := time.Duration(rng.ExpFloat64() * float64(time.Millisecond))
		sample = append(sample, d)
		h.Record(d)
	}
	slices.Sort(sample)
	prev := time.Duration(0)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		got := h.Quantile(q)
		want := sample[max(int(q*float64(len(sample)))-1, 0)]
		if diff := float64(got-want) / float64(want); diff > 0.01 || diff < -0.01 {
			t.Errorf("q%v = %v, sorted sample says %v", q, got, want)
		}
		if got < prev {
			t.Errorf("q%v = %v below the previous quantile %v", q, got, prev)
		}
		prev = got
	}
	if h.Max() != sample[len(sample)-1] || h.Count() != 100000 {
		t.Errorf("max %v count %d", h.Max(), h.Count())
	}
}

func TestHistogramConcurrentAndEmpty(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Mean() != 0 {
		t.Fatal("an empty histogram reports a value")
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				h.Record(time.Duration(g*1000+i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if h.Count() != 4000 || h.Max() != 3999*time.Microsecond {
		t.Errorf("count %d max %v", h.Count(), h.Max())
	}
	h.Record(-time.Second) // a clock step counts as zero
	if h.Quantile(0) != 0 {
		t.Errorf("q0 = %v", h.Quantile(0))
	}
}
