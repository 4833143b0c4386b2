package shard

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"

	"pgregory.net/rapid"
)

// spread is the largest |owned - mean| / mean over the members of t.
func spread(t Table) float64 {
	mean := float64(t.Partitions) / float64(len(t.Members))
	worst := 0.0
	for _, m := range t.Members {
		worst = max(worst, math.Abs(float64(t.Owned(m))-mean)/mean)
	}
	return worst
}

// TestBalanceBand: for 3 to 50 members at P = 271 and 1,024, every member
// owns within 10% of the mean, or floor/ceil of it where 10% of the mean
// is less than one shard.
func TestBalanceBand(t *testing.T) {
	for _, p := range []int{271, 1024} {
		cfg := DefaultConfig()
		cfg.Partitions = p
		for n := 3; n <= 50; n++ {
			tbl := Assign(nodeNames(n), cfg)
			lo, hi := band(p, n, cfg.Load)
			mean := float64(p) / float64(n)
			if float64(lo) < math.Min(math.Floor(mean), 0.9*mean)-1e-9 || float64(hi) > math.Max(math.Ceil(mean), 1.1*mean)+1e-9 {
				t.Fatalf("P=%d n=%d: band [%d, %d] is wider than ±10%% of %.2f", p, n, lo, hi, mean)
			}
			for _, m := range tbl.Members {
				if c := tbl.Owned(m); c < lo || c > hi {
					t.Errorf("P=%d n=%d: %s owns %d, band [%d, %d] around %.2f", p, n, m, c, lo, hi, mean)
				}
			}
		}
	}
}

// TestBalanceProperty: any member set and P, every member in band.
func TestBalanceProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := genConfig(t)
		members := genMembers(t, 1, min(cfg.Partitions+2, 64))
		tbl := Assign(members, cfg)
		lo, hi := band(cfg.Partitions, len(tbl.Members), cfg.Load)
		for _, m := range tbl.Members {
			if c := tbl.Owned(m); c < lo || c > hi {
				t.Fatalf("n=%d P=%d Load=%g: %s owns %d, band [%d, %d]", len(tbl.Members), cfg.Partitions, cfg.Load, m, c, lo, hi)
			}
		}
	})
}

// TestBalanceFigures prints, for P = 271 and 1,024 and 3..50 members, the
// largest deviation from the mean and the owners a join moves as a
// multiple of the ideal P/(n+1), next to what consistent with bounded
// loads (Load 1.25) gives for the same members. Run with -v to see them:
//
//	go test -run TestBalanceFigures -v ./shard/
func TestBalanceFigures(t *testing.T) {
	var out strings.Builder
	tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "P\tmembers\tmax deviation\tjoin moved (×ideal)\tconsistent: max deviation\tconsistent: join moved\t")
	cfg := DefaultConfig()
	for _, p := range []int{271, 1024} {
		cfg.Partitions = p
		var worstDev, worstJoin, sumJoin, cWorstDev, cSumJoin float64
		var small [5]float64 // 3..25 members: worst dev, worst join, sum join, consistent worst dev, consistent sum join
		// Each member count's table is the "after" of one join and the
		// "before" of the next: compute it once.
		before := Assign(nodeNames(3), cfg)
		cBefore := consistentTable(before, nodeNames(3), cfg)
		for n := 3; n <= 50; n++ {
			after := Assign(nodeNames(n+1), cfg)
			cAfter := consistentTable(after, nodeNames(n+1), cfg)
			ideal := float64(p) / float64(n+1)
			dev, join := spread(before), float64(ownersMoved(before, after))/ideal
			cDev, cJoin := spread(cBefore), float64(ownersMoved(cBefore, cAfter))/ideal
			before, cBefore = after, cAfter
			worstDev, worstJoin, sumJoin = max(worstDev, dev), max(worstJoin, join), sumJoin+join
			cWorstDev, cSumJoin = max(cWorstDev, cDev), cSumJoin+cJoin
			if n <= 25 {
				small = [5]float64{max(small[0], dev), max(small[1], join), small[2] + join, max(small[3], cDev), small[4] + cJoin}
			}
			if n <= 10 || n%10 == 0 || n == 25 {
				fmt.Fprintf(tw, "%d\t%d\t%.1f%%\t%.2f\t%.1f%%\t%.2f\t\n", p, n, 100*dev, join, 100*cDev, cJoin)
			}
		}
		fmt.Fprintf(tw, "%d\t3..25\tworst %.1f%%\tmean %.2f, worst %.2f\tworst %.1f%%\tmean %.2f\t\n", p, 100*small[0], small[2]/23, small[1], 100*small[3], small[4]/23)
		fmt.Fprintf(tw, "%d\t3..50\tworst %.1f%%\tmean %.2f, worst %.2f\tworst %.1f%%\tmean %.2f\t\n", p, 100*worstDev, sumJoin/48, worstJoin, 100*cWorstDev, cSumJoin/48)
	}
	tw.Flush()
	if testing.Verbose() {
		fmt.Fprint(os.Stdout, out.String())
	}
}

// consistentTable is t, Assign's table for members, with consistent's
// owners, for comparison. t is left as it was.
func consistentTable(t Table, members []string, cfg Config) Table {
	t.Shards = slices.Clone(t.Shards)
	if owners := consistentOwners(normalizeMembers(members), cfg.normalized()); owners != nil {
		for s := range t.Shards {
			t.Shards[s].Owner = owners[s]
		}
	}
	return t
}
