package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"os"
	"sort"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/shardgate/shardgate/bench"
)

func main() {
	out := flag.String("o", "latency.png", "PNG file to write")
	title := flag.String("title", "ack latency against offered load", "title drawn above the plot")
	flag.Parse()
	if err := run(*out, *title, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "latencyplot:", err)
		os.Exit(1)
	}
}

func run(out, title string, files []string) error {
	if len(files) == 0 {
		return errors.New("no bench reports given")
	}
	var pts []point
	for _, f := range files {
		p, err := readPoint(f)
		if err != nil {
			return err
		}
		pts = append(pts, p)
	}
	w, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	if err := render(w, title, pts); err != nil {
		w.Close()
		return fmt.Errorf("draw %s: %w", out, err)
	}
	return w.Close()
}

// point is one open-loop run: what was offered and what came back.
type point struct {
	Offered, Acked float64 // sends per second
	P50, P99       float64 // ack latency, ms
	Refused        int64   // failed attempts (1002 and the like)
}

func readPoint(path string) (point, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return point{}, fmt.Errorf("read %s: %w", path, err)
	}
	var r bench.Report
	if err := json.Unmarshal(b, &r); err != nil {
		return point{}, fmt.Errorf("decode %s: %w", path, err)
	}
	if r.TargetRate <= 0 {
		return point{}, fmt.Errorf("%s: not an open-loop run (no target rate)", path)
	}
	return point{Offered: r.TargetRate, Acked: r.AckedPerSec, P50: r.AckLatency.P50, P99: r.AckLatency.P99, Refused: r.Errors}, nil
}

// Layout of the picture.
const (
	width, height          = 900, 540
	left, right, top, base = 80, 80, 50, 70 // margins
)

var (
	white  = color.RGBA{255, 255, 255, 255}
	black  = color.RGBA{0, 0, 0, 255}
	grid   = color.RGBA{225, 225, 225, 255}
	p50Col = color.RGBA{31, 119, 180, 255}
	p99Col = color.RGBA{214, 39, 40, 255}
	ackCol = color.RGBA{90, 90, 90, 255}
)

// render draws latency on a log scale (left axis, ms) and acknowledged
// rate (right axis, sends/s) against the offered rate.
func render(w io.Writer, title string, pts []point) error {
	if len(pts) == 0 {
		return errors.New("no points")
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].Offered < pts[j].Offered })
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), &image.Uniform{white}, image.Point{}, draw.Src)

	maxX, maxRate, maxLat := 0.0, 0.0, 1.0
	for _, p := range pts {
		maxX = math.Max(maxX, p.Offered)
		maxRate = math.Max(maxRate, math.Max(p.Acked, p.Offered))
		maxLat = math.Max(maxLat, p.P99)
	}
	maxX, maxRate = niceCeil(maxX), niceCeil(maxRate)
	decades := math.Ceil(math.Log10(maxLat))
	if decades < 1 {
		decades = 1
	}
	pw, ph := float64(width-left-right), float64(height-top-base)
	xAt := func(v float64) int { return left + int(v/maxX*pw) }
	latAt := func(ms float64) int { // 1 ms at the bottom, 10^decades at the top
		ms = math.Max(ms, 1)
		return top + int(ph-math.Log10(ms)/decades*ph)
	}
	rateAt := func(v float64) int { return top + int(ph-v/maxRate*ph) }

	for d := 0.0; d <= decades; d++ {
		y := latAt(math.Pow(10, d))
		hline(img, left, width-right, y, grid)
		label(img, left-8, y+4, fmt.Sprintf("%g", math.Pow(10, d)), black, alignRight)
	}
	for i := 0; i <= 5; i++ {
		x := left + int(float64(i)/5*pw)
		vline(img, x, top, height-base, grid)
		label(img, x, height-base+18, fmt.Sprintf("%.0f", maxX*float64(i)/5), black, alignCenter)
		y := top + int(ph-float64(i)/5*ph)
		label(img, width-right+8, y+4, fmt.Sprintf("%.0f", maxRate*float64(i)/5), ackCol, alignLeft)
	}
	hline(img, left, width-right, height-base, black)
	vline(img, left, top, height-base, black)
	vline(img, width-right, top, height-base, black)

	series := []struct {
		col color.RGBA
		y   func(point) int
	}{
		{ackCol, func(p point) int { return rateAt(p.Acked) }},
		{p50Col, func(p point) int { return latAt(p.P50) }},
		{p99Col, func(p point) int { return latAt(p.P99) }},
	}
	for _, s := range series {
		for i, p := range pts {
			x, y := xAt(p.Offered), s.y(p)
			dot(img, x, y, s.col)
			if i > 0 {
				q := pts[i-1]
				line(img, xAt(q.Offered), s.y(q), x, y, s.col)
			}
		}
	}

	label(img, width/2, 28, title, black, alignCenter)
	label(img, width/2, height-base+42, "offered load (sends/s)", black, alignCenter)
	label(img, 8, top-12, "ack latency (ms, log)", black, alignLeft)
	label(img, width-8, top-12, "acknowledged/s", ackCol, alignRight)
	legend := []struct {
		col  color.RGBA
		text string
	}{{p50Col, "ack p50"}, {p99Col, "ack p99"}, {ackCol, "acknowledged/s (right axis)"}}
	for i, l := range legend {
		y := height - 14
		x := left + i*220
		hline(img, x, x+24, y-4, l.col)
		hline(img, x, x+24, y-3, l.col)
		label(img, x+30, y, l.text, black, alignLeft)
	}
	return png.Encode(w, img)
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

type align int

const (
	alignLeft align = iota
	alignCenter
	alignRight
)

func label(img draw.Image, x, y int, s string, c color.Color, a align) {
	d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13}
	wd := d.MeasureString(s).Round()
	switch a {
	case alignCenter:
		x -= wd / 2
	case alignRight:
		x -= wd
	}
	d.Dot = fixed.P(x, y)
	d.DrawString(s)
}

func hline(img draw.Image, x0, x1, y int, c color.Color) {
	for x := x0; x <= x1; x++ {
		img.Set(x, y, c)
	}
}

func vline(img draw.Image, x, y0, y1 int, c color.Color) {
	for y := y0; y <= y1; y++ {
		img.Set(x, y, c)
	}
}

func dot(img draw.Image, x, y int, c color.Color) {
	for dx := -3; dx <= 3; dx++ {
		for dy := -3; dy <= 3; dy++ {
			if dx*dx+dy*dy <= 9 {
				img.Set(x+dx, y+dy, c)
			}
		}
	}
}

// line is Bresenham's, two pixels thick.
func line(img draw.Image, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.Set(x0, y0, c)
		img.Set(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
