package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// cpuMetric is the process collector's counter of CPU seconds (user and
// system) that every node exports on /metrics.
const cpuMetric = "process_cpu_seconds_total"

// cpuMeter reads each node's CPU counter before and after a run.
type cpuMeter struct {
	urls   []string
	hc     *http.Client
	before []float64
}

func newCPUMeter(urls []string) *cpuMeter {
	m := &cpuMeter{hc: &http.Client{Timeout: 10 * time.Second}}
	for _, u := range urls {
		u = strings.TrimSuffix(u, "/")
		if !strings.HasSuffix(u, "/metrics") {
			u += "/metrics"
		}
		m.urls = append(m.urls, u)
	}
	return m
}

// start takes the first reading; a node that cannot be read fails the run
// before it sends anything.
func (m *cpuMeter) start(ctx context.Context) error {
	var err error
	m.before, err = m.read(ctx)
	return err
}

// finish takes the second reading and fills the report. A node that cannot
// be read at the end (it was stopped during the run) is left out of the
// sum, and the report says so in its error kinds.
func (m *cpuMeter) finish(ctx context.Context, rep *Report, messages int64) {
	if len(m.urls) == 0 {
		return
	}
	for i, u := range m.urls {
		after, err := readCPU(ctx, m.hc, u)
		if err != nil {
			rep.ErrorKinds = append(rep.ErrorKinds, ErrorCount{Kind: "metrics", Count: 1, First: err.Error()})
			continue
		}
		used := after - m.before[i]
		rep.NodeCPU = append(rep.NodeCPU, NodeCPU{URL: u, Seconds: used})
		rep.NodeCPUSec += used
	}
	if messages > 0 {
		rep.CPUPerMessageUs = rep.NodeCPUSec / float64(messages) * 1e6
	}
}

func (m *cpuMeter) read(ctx context.Context) ([]float64, error) {
	out := make([]float64, len(m.urls))
	for i, u := range m.urls {
		v, err := readCPU(ctx, m.hc, u)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// readCPU fetches one /metrics page and returns its CPU counter.
func readCPU(ctx context.Context, hc *http.Client, url string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("--metrics %s: %w", url, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("--metrics: read %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("--metrics: %s answered %s", url, resp.Status)
	}
	v, err := parseCPU(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, fmt.Errorf("--metrics: %s: %w", url, err)
	}
	return v, nil
}

// parseCPU finds the CPU counter in a Prometheus text exposition.
func parseCPU(r io.Reader) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), cpuMetric)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if rest != "" && rest[0] == '{' { // labels, if any
			if _, rest, ok = strings.Cut(rest, "}"); !ok {
				continue
			}
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, fmt.Errorf("%s has the value %q: %w", cpuMetric, fields[0], err)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading the metrics: %w", err)
	}
	return 0, fmt.Errorf("no %s among the metrics (is this a node's /metrics?)", cpuMetric)
}
