package main

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/shardgate/shardgate/bench"
)

func TestRenderDrawsEverySeries(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i, rate := range []float64{500, 1000, 2000} {
		r := bench.Report{Mode: "send", TargetRate: rate, AckedPerSec: rate * 0.9}
		r.AckLatency.P50 = float64(5 * (i + 1))
		r.AckLatency.P99 = float64(40 * (i + 1))
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, "rate.json")
		f = f[:len(f)-5] + string(rune('a'+i)) + ".json"
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	out := filepath.Join(dir, "latency.png")
	if err := run(out, "test", files); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if got := img.Bounds().Dx(); got != width {
		t.Fatalf("width %d, want %d", got, width)
	}
	seen := map[[3]uint32]int{}
	for y := 0; y < height; y++ {
		for x := 0; x < width; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, b >> 8}]++
		}
	}
	for name, c := range map[string][3]uint32{"p50": {31, 119, 180}, "p99": {214, 39, 40}, "acked": {90, 90, 90}} {
		if seen[c] < 50 {
			t.Errorf("%s series: %d pixels of its colour, want a line", name, seen[c])
		}
	}
}

func TestClosedLoopReportRefused(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "closed.json")
	b, _ := json.Marshal(bench.Report{Mode: "send", InFlight: 64})
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(filepath.Join(dir, "x.png"), "t", []string{f}); err == nil {
		t.Fatal("a closed-loop report was plotted; it has no offered rate")
	}
}
