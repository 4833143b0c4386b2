package node

import (
	"testing"
	"time"
)

func TestPlanSummary(t *testing.T) {
	for _, tc := range []struct {
		homes, copies int
		want          string
	}{
		{1, 1, "1 shard changes home, 1 copy to make, 0 B to copy, about 500ms"},
		{2, 3, "2 shards change home, 3 copies to make, 0 B to copy, about 500ms"},
		{0, 1, "0 shards change home, 1 copy to make, 0 B to copy, about 500ms"},
	} {
		if got := planSummary(tc.homes, tc.copies, 0, 500*time.Millisecond); got != tc.want {
			t.Errorf("planSummary(%d, %d) = %q, want %q", tc.homes, tc.copies, got, tc.want)
		}
	}
}
