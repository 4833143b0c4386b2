package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/shardgate/shardgate/bench"
)

// runBench parses the bench flags, runs the load and prints the report.
// The exit status is non-zero when a guarantee was broken (a lost,
// doubled or reordered message), so scripts can rely on it.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := bench.DefaultConfig()
	fs := flag.NewFlagSet("shardgate bench", flag.ContinueOnError)
	fs.SetOutput(stdout) // only -h prints through it
	nodes := fs.String("nodes", strings.Join(cfg.Nodes, ","), "comma-separated WebSocket URLs of the nodes; connections are spread over them")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, fmt.Sprintf("connections to open (at most %d per process)", bench.MaxConns))
	fs.IntVar(&cfg.Keys, "keys", 0, "distinct recipients, each one of the connections (default: all of them)")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "target sends per second, over all connections")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long the measured part sends")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "send this long before measuring")
	fs.IntVar(&cfg.Size, "size", cfg.Size, "bytes of JSON data per message")
	fs.StringVar(&cfg.Secret, "secret", envDefault("SHARDGATE_AUTH_SECRET", ""), "mint a token per connection with the nodes' --auth-secret (default: insecure ?user=)")
	sourceIPs := fs.String("source-ips", "", "local addresses to bind connections to, e.g. 127.0.0.1-127.0.0.8 (more ephemeral ports)")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "time limit of each send attempt")
	fs.IntVar(&cfg.Retries, "retries", cfg.Retries, "extra attempts, with the same id, after a timeout, a broken connection or error 1003")
	fs.DurationVar(&cfg.Grace, "grace", cfg.Grace, "how long to wait after sending for deliveries before counting messages lost")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", cfg.ConnectTimeout, "time limit for opening all connections")
	fs.IntVar(&cfg.MaxInflight, "max-inflight", cfg.MaxInflight, "most sends waiting for an answer at once")
	fs.StringVar(&cfg.Mode, "mode", cfg.Mode, "send (durable sends between the bench's connections) or fanout (publications to one topic's subscribers)")
	fs.IntVar(&cfg.InFlight, "in-flight", 0, "closed loop: keep this many sends or publications outstanding, ignoring --rate (0: open loop at --rate)")
	fs.IntVar(&cfg.Subscribers, "subscribers", 1000, "fanout: connections subscribed to --topic")
	fs.IntVar(&cfg.Publishers, "publishers", 8, "fanout: connections publishing to --topic in turn")
	fs.StringVar(&cfg.Topic, "topic", cfg.Topic, "fanout: the topic")
	fs.BoolVar(&cfg.Route, "route", false, "send: open each connection on its key's home (GET /v1/route), as a one-hop client does")
	metrics := fs.String("metrics", "", "comma-separated /metrics URLs (or admin URLs) of the node processes: reports node CPU per message")
	jsonFile := fs.String("json", "", "also write the JSON report to this file")
	format := fs.String("format", "table", "report on stdout: table or json")
	quiet := fs.Bool("quiet", false, "no progress line")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := flagsFromEnv(fs, "bench-"); err != nil {
		return err
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("--format %q is not table or json", *format)
	}
	cfg.Nodes, cfg.Metrics = split(*nodes), split(*metrics)
	var err error
	if cfg.SourceIPs, err = bench.ParseSourceIPs(*sourceIPs); err != nil {
		return err
	}
	if !*quiet {
		cfg.Progress, cfg.ProgressTTY = stderr, isTerminal(stderr)
	}
	if err := cfg.Validate(); err != nil {
		return err // before creating the JSON file: a bad flag leaves nothing behind
	}
	var out *os.File
	if *jsonFile != "" {
		if out, err = os.Create(*jsonFile); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
		defer out.Close()
	}

	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *format == "json" {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if out != nil {
		err = errors.Join(err, rep.WriteJSON(out), out.Close())
	}
	if err != nil {
		return err
	}
	if p := rep.Problems(); len(p) > 0 {
		return fmt.Errorf("guarantees broken: %s", strings.Join(p, "; "))
	}
	return nil
}

// isTerminal reports whether w is a character device, where a progress
// line can be rewritten in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
